build-static/host/src/common/paths.o: src/common/paths.c \
 src/common/paths.h src/common/error.h
src/common/paths.h:
src/common/error.h:
