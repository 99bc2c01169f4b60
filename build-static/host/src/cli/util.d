build-static/host/src/cli/util.o: src/cli/util.c src/cli/cli.h
src/cli/cli.h:
