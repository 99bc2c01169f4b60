build-static/guest/src/guest/main.o: src/guest/main.c
