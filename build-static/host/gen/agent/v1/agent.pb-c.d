build-static/host/gen/agent/v1/agent.pb-c.o: \
 build-static/gen/agent/v1/agent.pb-c.c \
 build-static/gen/agent/v1/agent.pb-c.h
build-static/gen/agent/v1/agent.pb-c.h:
