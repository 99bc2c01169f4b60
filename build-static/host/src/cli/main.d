build-static/host/src/cli/main.o: src/cli/main.c src/cli/cli.h \
 src/common/log.h
src/cli/cli.h:
src/common/log.h:
