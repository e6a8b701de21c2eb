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
#include "kexbridge/origdst.h"
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
	/* The relay being replaced, while kb_relay_reload() builds this one. */
	struct kb_relay *previous;
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
	int family = ctx->listen_addr.ss.ss_family, on = 1, r;
	evutil_socket_t fd;
	char why[256];

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if ((r = kb_origdst_prepare_listener(fd, family, ctx->route->transparent, why,
	    sizeof(why))) != 0) {
		snprintf(err, errlen, _("cannot listen on %s (route %s): %s"), ctx->listen_str,
		    ctx->route->name, why);
		close(fd);
		return r;
	}
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

/* Returns the route of relay (may be NULL) listening on listen_str, or NULL. */
static struct kb_route_ctx *
relay_find_listener(struct kb_relay *relay, const char *listen_str)
{
	size_t i;

	for (i = 0; relay != NULL && i < relay->route_count; i++) {
		if (relay->routes[i].listener != NULL &&
		    strcmp(relay->routes[i].listen_str, listen_str) == 0)
			return &relay->routes[i];
	}
	return NULL;
}

/*
 * Moves the listening socket of from to ctx. Connections already queued in
 * the socket's backlog are accepted by ctx, so none is refused in between.
 */
static void
relay_adopt_listener(struct kb_route_ctx *ctx, struct kb_route_ctx *from)
{
	ctx->listener = from->listener;
	from->listener = NULL;
	if (from->resume_timer != NULL)
		evtimer_del(from->resume_timer);
	evconnlistener_set_cb(ctx->listener, relay_accept_cb, ctx);
	evconnlistener_set_error_cb(ctx->listener, relay_accept_error_cb);
	evconnlistener_enable(ctx->listener);
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
	ctx->max_sessions_total = conf->max_sessions;
	TAILQ_INIT(&ctx->sessions);
	if ((r = kb_net_parse(route->listen, NULL, true, &ctx->listen_addr,
	    why, sizeof(why))) != 0 ||
	    (route->upstream != NULL &&
	    (r = kb_net_parse(route->upstream, "22", false, &ctx->upstream_addr,
	    why, sizeof(why))) != 0)) {
		snprintf(err, errlen, _("route %s: %s"), route->name, why);
		return r;
	}
	kb_net_format((struct sockaddr *)&ctx->listen_addr.ss, ctx->listen_addr.len,
	    ctx->listen_str, sizeof(ctx->listen_str));
	if (route->upstream != NULL)
		kb_net_format((struct sockaddr *)&ctx->upstream_addr.ss, ctx->upstream_addr.len,
		    ctx->upstream_str, sizeof(ctx->upstream_str));
	else
		snprintf(ctx->upstream_str, sizeof(ctx->upstream_str), "original destination");
	if ((ctx->resume_timer = evtimer_new(relay->base, relay_resume_cb, ctx)) == NULL) {
		snprintf(err, errlen, "%s", _("out of memory"));
		return KB_ERR_ALLOC_FAIL;
	}
	if ((route->mode == KB_MODE_BRIDGE || route->mode == KB_MODE_AUTO) &&
	    (r = kb_bridge_route_new(ctx, conf, &ctx->bridge, err, errlen)) != 0)
		return r;
	/* A socket the previous relay holds is taken over once all routes started. */
	if (relay_find_listener(relay->previous, ctx->listen_str) == NULL &&
	    (r = relay_listen(ctx, err, errlen)) != 0)
		return r;

	if (route->transparent != KB_TRANSPARENT_NO)
		kb_log(KB_LOG_INFO, NULL, "listening on %s (route %s, mode %s, transparent %s, "
		    "allow %s)", ctx->listen_str, route->name, kb_conf_mode_str(route->mode),
		    kb_transparent_str(route->transparent), route->allow_spec);
	else if (strcmp(route->upstream, ctx->upstream_str) == 0)
		kb_log(KB_LOG_INFO, NULL, "listening on %s (route %s, mode %s, upstream %s)",
		    ctx->listen_str, route->name, kb_conf_mode_str(route->mode),
		    ctx->upstream_str);
	else
		kb_log(KB_LOG_INFO, NULL, "listening on %s (route %s, mode %s, upstream %s = %s)",
		    ctx->listen_str, route->name, kb_conf_mode_str(route->mode),
		    route->upstream, ctx->upstream_str);
	return 0;
}

/* Builds a relay for conf; previous (may be NULL) keeps its listeners. */
static struct kb_relay *
relay_create(struct event_base *base, const struct kb_conf *conf,
    struct kb_relay *previous, char *err, size_t errlen)
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
	relay->previous = previous;
	for (i = 0; i < conf->route_count; i++) {
		relay->route_count = i + 1;
		if (relay_route_start(relay, &relay->routes[i], &conf->routes[i], conf,
		    err, errlen) != 0) {
			kb_relay_free(relay);
			return NULL;
		}
	}
	relay->previous = NULL;
	return relay;
}

struct kb_relay *
kb_relay_new(struct event_base *base, const struct kb_conf *conf, char *err, size_t errlen)
{
	return relay_create(base, conf, NULL, err, errlen);
}

struct kb_relay *
kb_relay_reload(struct kb_relay *old, const struct kb_conf *conf, char *err, size_t errlen)
{
	struct kb_relay *relay;
	struct kb_route_ctx *from;
	size_t i;

	if ((relay = relay_create(old->base, conf, old, err, errlen)) == NULL)
		return NULL;

	/*
	 * Nothing can fail from here on, so old keeps every socket until now.
	 * NOTE: max_sessions counts per generation, so until old drains a route
	 * may hold up to twice its limit.
	 */
	for (i = 0; i < relay->route_count; i++) {
		if (relay->routes[i].listener != NULL)
			continue;
		if ((from = relay_find_listener(old, relay->routes[i].listen_str)) != NULL)
			relay_adopt_listener(&relay->routes[i], from);
	}
	kb_relay_stop_accepting(old);
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
