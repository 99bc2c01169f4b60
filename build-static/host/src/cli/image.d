build-static/host/src/cli/image.o: src/cli/image.c src/cli/cli.h
src/cli/cli.h:
