/*
 * The tap relay: one listener per route, and per accepted connection a
 * session that copies bytes both ways unchanged while sniffers parse the
 * version lines and KEXINITs and the negotiation is logged.
 */
#ifndef KEXBRIDGE_RELAY_H
#define KEXBRIDGE_RELAY_H

#include <stddef.h>

struct event_base;
struct kb_conf;
struct kb_relay;

/*
 * Resolves every route's upstream (blocking) and starts listening on every
 * route's address. conf must outlive the relay. On failure writes the reason
 * to err and returns NULL.
 */
struct kb_relay *kb_relay_new(struct event_base *base, const struct kb_conf *conf,
    char *err, size_t errlen);

/*
 * Starts a relay for conf, the reloaded configuration, as kb_relay_new()
 * does, but takes over each listening socket of old whose address is in conf
 * too, so that address accepts throughout. On success old closes its other
 * listeners and keeps its sessions, which go on with old's configuration;
 * free old once kb_relay_session_count() is 0. On failure old is unchanged
 * and the reason is in err.
 */
struct kb_relay *kb_relay_reload(struct kb_relay *old, const struct kb_conf *conf,
    char *err, size_t errlen);

/* Closes the listeners; open sessions go on. */
void kb_relay_stop_accepting(struct kb_relay *relay);

/* Closes every open session, logging each as closed by kexbridge. */
void kb_relay_close_sessions(struct kb_relay *relay, const char *reason);

/* Number of open sessions on all routes. */
size_t kb_relay_session_count(const struct kb_relay *relay);

/* Stops accepting, closes every session and frees the relay; NULL is accepted. */
void kb_relay_free(struct kb_relay *relay);

#endif
