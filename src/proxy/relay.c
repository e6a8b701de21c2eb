/*
 * The tap relay's listeners: one evconnlistener per route, each handing
 * accepted connections to a new session.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "kexbridge/conf.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/net.h"
#include "kexbridge/relay.h"
#include "bridge.h"
#include "session.h"

/* Pause after an accept error such as EMFILE, so the loop does not spin. */
#define RELAY_ACCEPT_PAUSE	1
#define RELAY_BACKLOG		128

struct kb_relay {
	struct event_base *base;
	struct kb_route_ctx *routes;
	size_t route_count;
};

static void
relay_accept_cb(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *addr, int addrlen, void *arg)
{
	kb_session_start(arg, fd, addr, (socklen_t)addrlen);
}

static void
relay_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kb_route_ctx *ctx = arg;

	if (ctx->listener != NULL)
		evconnlistener_enable(ctx->listener);
}

static void
relay_accept_error_cb(struct evconnlistener *listener, void *arg)
{
	struct kb_route_ctx *ctx = arg;
	struct timeval tv = { RELAY_ACCEPT_PAUSE, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	kb_log(KB_LOG_ERROR, NULL, "accepting on %s (route %s) failed: %s; pausing for %d s",
	    ctx->listen_str, ctx->route->name, evutil_socket_error_to_string(err),
	    RELAY_ACCEPT_PAUSE);
	evconnlistener_disable(listener);
	evtimer_add(ctx->resume_timer, &tv);
}

/*
 * Opens a listening socket with SO_REUSEADDR; an IPv6 socket gets
 * IPV6_V6ONLY so that IPv4 and IPv6 routes can share a port.
 */
static int
relay_listen(struct kb_route_ctx *ctx, char *err, size_t errlen)
{
	const unsigned int flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_REUSEABLE;
	int family = ctx->listen_addr.ss.ss_family, on = 1;
	evutil_socket_t fd;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
	    bind(fd, (struct sockaddr *)&ctx->listen_addr.ss, ctx->listen_addr.len) != 0)
		goto fail;
	ctx->listener = evconnlistener_new(ctx->base, relay_accept_cb, ctx, flags,
	    RELAY_BACKLOG, fd);
	if (ctx->listener == NULL)
		goto fail;
	evconnlistener_set_error_cb(ctx->listener, relay_accept_error_cb);
	return 0;
 fail:
	snprintf(err, errlen, _("cannot listen on %s (route %s): %s"), ctx->listen_str,
	    ctx->route->name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return KB_ERR_SYSTEM;
}

/*
 * Resolves the route's addresses, loads a bridge route's host keys, starts
 * its listener and logs it.
 */
static int
relay_route_start(struct kb_relay *relay, struct kb_route_ctx *ctx,
    const struct kb_route *route, const struct kb_conf *conf, char *err, size_t errlen)
{
	char why[256];
	int r;

	ctx->route = route;
	ctx->base = relay->base;
	TAILQ_INIT(&ctx->sessions);
	if ((r = kb_net_parse(route->listen, NULL, true, &ctx->listen_addr,
	    why, sizeof(why))) != 0 ||
	    (r = kb_net_parse(route->upstream, "22", false, &ctx->upstream_addr,
	    why, sizeof(why))) != 0) {
		snprintf(err, errlen, _("route %s: %s"), route->name, why);
		return r;
	}
	kb_net_format((struct sockaddr *)&ctx->listen_addr.ss, ctx->listen_addr.len,
	    ctx->listen_str, sizeof(ctx->listen_str));
	kb_net_format((struct sockaddr *)&ctx->upstream_addr.ss, ctx->upstream_addr.len,
	    ctx->upstream_str, sizeof(ctx->upstream_str));
	if ((ctx->resume_timer = evtimer_new(relay->base, relay_resume_cb, ctx)) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	if (route->mode == KB_MODE_BRIDGE &&
	    (r = kb_bridge_route_new(ctx, conf, &ctx->bridge, err, errlen)) != 0)
		return r;
	if ((r = relay_listen(ctx, err, errlen)) != 0)
		return r;

	if (strcmp(route->upstream, ctx->upstream_str) == 0)
		kb_log(KB_LOG_INFO, NULL, "listening on %s (route %s, mode %s, upstream %s)",
		    ctx->listen_str, route->name, kb_conf_mode_str(route->mode),
		    ctx->upstream_str);
	else
		kb_log(KB_LOG_INFO, NULL, "listening on %s (route %s, mode %s, upstream %s = %s)",
		    ctx->listen_str, route->name, kb_conf_mode_str(route->mode),
		    route->upstream, ctx->upstream_str);
	return 0;
}

struct kb_relay *
kb_relay_new(struct event_base *base, const struct kb_conf *conf, char *err, size_t errlen)
{
	struct kb_relay *relay;
	size_t i;

	if ((relay = calloc(1, sizeof(*relay))) == NULL ||
	    (relay->routes = calloc(conf->route_count, sizeof(*relay->routes))) == NULL) {
		free(relay);
		snprintf(err, errlen, "%s", _("out of memory"));
		return NULL;
	}
	relay->base = base;
	for (i = 0; i < conf->route_count; i++) {
		relay->route_count = i + 1;
		if (relay_route_start(relay, &relay->routes[i], &conf->routes[i], conf,
		    err, errlen) != 0) {
			kb_relay_free(relay);
			return NULL;
		}
	}
	return relay;
}

void
kb_relay_stop_accepting(struct kb_relay *relay)
{
	struct kb_route_ctx *ctx;
	size_t i;

	for (i = 0; i < relay->route_count; i++) {
		ctx = &relay->routes[i];
		if (ctx->listener != NULL)
			evconnlistener_free(ctx->listener);
		ctx->listener = NULL;
		if (ctx->resume_timer != NULL)
			event_free(ctx->resume_timer);
		ctx->resume_timer = NULL;
	}
}

void
kb_relay_close_sessions(struct kb_relay *relay, const char *reason)
{
	struct kb_route_ctx *ctx;
	size_t i;

	for (i = 0; i < relay->route_count; i++) {
		ctx = &relay->routes[i];
		while (!TAILQ_EMPTY(&ctx->sessions))
			kb_session_close(TAILQ_FIRST(&ctx->sessions), "kexbridge", reason);
		if (ctx->bridge != NULL)
			kb_bridge_close_sessions(ctx->bridge, reason);
	}
}

size_t
kb_relay_session_count(const struct kb_relay *relay)
{
	size_t i, n = 0;

	for (i = 0; i < relay->route_count; i++)
		n += relay->routes[i].session_count;
	return n;
}

void
kb_relay_free(struct kb_relay *relay)
{
	size_t i;

	if (relay == NULL)
		return;
	kb_relay_stop_accepting(relay);
	kb_relay_close_sessions(relay, "shutdown");
	for (i = 0; i < relay->route_count; i++)
		kb_bridge_route_free(relay->routes[i].bridge);
	free(relay->routes);
	free(relay);
}
