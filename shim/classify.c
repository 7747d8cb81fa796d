/* Content-based choice of a client connection's protocol from its first bytes (HTTP,
 * PostgreSQL, Redis, MySQL), and the feed that hands bytes to the chosen one. */
#include <string.h>

#include "connection.h"
#include "shim.h"

enum verdict { UNDECIDED, HTTP, POSTGRESQL, REDIS, MYSQL, NONE };

/* What the first bytes the client wrote say. Anything that is neither PostgreSQL nor
 * Redis goes to the HTTP framer, which gives up (and counts it) if it is not HTTP either. */
static enum verdict judge_client_bytes(const uint8_t *bytes, size_t length) {
    enum ldtap_wire_recognition pg = ldtap_pgwire_recognise(bytes, length);
    if (pg == LDTAP_WIRE_RECOGNISED)
        return POSTGRESQL;
    enum ldtap_wire_recognition redis = ldtap_resp_recognise(bytes, length);
    if (redis == LDTAP_WIRE_RECOGNISED)
        return REDIS;
    if (pg == LDTAP_WIRE_NEED_MORE_BYTES || redis == LDTAP_WIRE_NEED_MORE_BYTES)
        return UNDECIDED;
    return HTTP;
}

/* Server bytes before any client byte: only MySQL's greeting is expected. */
static enum verdict judge_server_bytes(const uint8_t *bytes, size_t length) {
    switch (ldtap_mysql_recognise(bytes, length)) {
    case LDTAP_WIRE_RECOGNISED:
        return MYSQL;
    case LDTAP_WIRE_NEED_MORE_BYTES:
        return UNDECIDED;
    default:
        return NONE;
    }
}

static enum ldtap_feed_result feed_chosen(struct ldtap_connection *connection, enum ldtap_flow flow,
                                          const uint8_t *bytes, size_t length) {
    if (connection->protocol == LDTAP_PROTOCOL_WIRE)
        return ldtap_wire_connection_feed(connection, flow, bytes, length);
    return ldtap_exchange_feed(connection, flow, bytes, length);
}

/* Holds the first bytes until they tell the protocol, then replays them to its framer
 * followed by the rest of this call's bytes. */
static enum ldtap_feed_result classify(struct ldtap_connection *connection, enum ldtap_flow flow,
                                       const uint8_t *bytes, size_t length) {
    size_t held = connection->sniffed_length;
    if (held > 0 && connection->sniffed_flow != flow)
        return LDTAP_FEED_GIVE_UP; /* the other side spoke before we could tell: not ours */
    size_t taken = sizeof(connection->sniffed) - held < length ? sizeof(connection->sniffed) - held : length;
    memcpy(connection->sniffed + held, bytes, taken);
    connection->sniffed_length = (uint8_t)(held + taken);
    connection->sniffed_flow = (uint8_t)flow;
    enum verdict verdict = flow == LDTAP_OUTBOUND
                               ? judge_client_bytes(connection->sniffed, connection->sniffed_length)
                               : judge_server_bytes(connection->sniffed, connection->sniffed_length);
    if (verdict == UNDECIDED && connection->sniffed_length < sizeof(connection->sniffed))
        return LDTAP_FEED_CONTINUE;
    switch (verdict) {
    case HTTP:
        connection->protocol = LDTAP_PROTOCOL_HTTP;
        break;
    case POSTGRESQL:
        ldtap_wire_connection_start(connection, LDTAP_DB_POSTGRESQL);
        break;
    case REDIS:
        ldtap_wire_connection_start(connection, LDTAP_DB_REDIS);
        break;
    case MYSQL:
        ldtap_wire_connection_start(connection, LDTAP_DB_MYSQL);
        break;
    default:
        return LDTAP_FEED_GIVE_UP;
    }
    enum ldtap_feed_result result = LDTAP_FEED_CONTINUE;
    if (held > 0)
        result = feed_chosen(connection, flow, connection->sniffed, held);
    return result == LDTAP_FEED_CONTINUE ? feed_chosen(connection, flow, bytes, length) : result;
}

/* hot: an HTTP connection takes the vector whole; the others piece by piece. */
enum ldtap_feed_result ldtap_connection_feed_vector(struct ldtap_connection *connection, enum ldtap_flow flow,
                                                    const struct iovec *vector, size_t count, size_t length) {
    if (LDTAP_LIKELY(connection->protocol == LDTAP_PROTOCOL_HTTP))
        return ldtap_exchange_feed_vector(connection, flow, vector, count, length);
    enum ldtap_feed_result outcome = LDTAP_FEED_CONTINUE;
    for (size_t i = 0; i < count && length > 0 && outcome == LDTAP_FEED_CONTINUE; i++) {
        size_t piece = vector[i].iov_len < length ? vector[i].iov_len : length;
        outcome = ldtap_connection_feed(connection, flow, vector[i].iov_base, piece);
        length -= piece;
    }
    return outcome;
}

/* hot */
enum ldtap_feed_result ldtap_connection_feed(struct ldtap_connection *connection, enum ldtap_flow flow,
                                             const uint8_t *bytes, size_t length) {
    if (LDTAP_UNLIKELY(connection->protocol == LDTAP_PROTOCOL_UNKNOWN))
        return classify(connection, flow, bytes, length);
    return feed_chosen(connection, flow, bytes, length);
}
