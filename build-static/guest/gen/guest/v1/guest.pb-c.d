build-static/guest/gen/guest/v1/guest.pb-c.o: \
 build-static/gen/guest/v1/guest.pb-c.c \
 build-static/gen/guest/v1/guest.pb-c.h
build-static/gen/guest/v1/guest.pb-c.h:
