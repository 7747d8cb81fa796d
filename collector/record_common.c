/* Helpers shared by the record decoders: the common span head, UTF-8 validation (Unicode
 * table 3-7) and address formatting. */
#include "record_common.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>


/* Length of the well-formed UTF-8 sequence at `bytes`, 0 if none. */
static size_t utf8_sequence_length(const unsigned char *bytes, size_t available) {
    unsigned char lead = bytes[0];
    if (lead < 0x80) {
        return 1;
    }
    size_t length;
    unsigned char second_min = 0x80, second_max = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        second_min = lead == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        second_max = lead == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        second_min = lead == 0xf0 ? 0x90 : 0x80;
        second_max = lead == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (available < length || bytes[1] < second_min || bytes[1] > second_max) {
        return 0;
    }
    for (size_t i = 2; i < length; i++) {
        if ((bytes[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return length;
}

size_t ldtap_copy_clean_text(const char *text, size_t length, char *out, size_t capacity) {
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    const unsigned char *bytes = (const unsigned char *)text;
    size_t used = 0;
    size_t position = 0;
    while (position < length) {
        /* A run of printable ASCII (most of any statement or name) is copied whole. */
        size_t run = 0;
        while (position + run < length && bytes[position + run] >= 0x20 && bytes[position + run] < 0x7f) {
            run++;
        }
        if (run > 0) {
            size_t room = capacity - 1 - used;
            size_t taken = run < room ? run : room;
            memcpy(out + used, text + position, taken);
            used += taken;
            position += taken;
            if (taken < run) {
                break;
            }
            continue;
        }
        size_t sequence = utf8_sequence_length(bytes + position, length - position);
        const char *piece = text + position;
        size_t piece_length = sequence;
        if (sequence == 0 || (sequence == 1 && (bytes[position] < 0x20 || bytes[position] == 0x7f))) {
            piece = replacement;
            piece_length = 3;
            sequence = sequence ? sequence : 1;
        }
        if (used + piece_length > capacity - 1) {
            break;
        }
        memcpy(out + used, piece, piece_length);
        used += piece_length;
        position += sequence;
    }
    out[used] = '\0';
    return used;
}

/* One octet's decimal digits, without leading zeros; returns the end. */
static char *put_octet(char *to, uint8_t octet) {
    if (octet >= 100) {
        *to++ = (char)('0' + octet / 100);
    }
    if (octet >= 10) {
        *to++ = (char)('0' + octet / 10 % 10);
    }
    *to++ = (char)('0' + octet % 10);
    return to;
}

/* Dotted quad as inet_ntop writes it, without its sprintf: a database span has two. */
static bool format_ipv4(const uint8_t address[4], char text[LDTAP_ADDRESS_TEXT_BYTES]) {
    char *to = put_octet(text, address[0]);
    for (int i = 1; i < 4; i++) {
        *to++ = '.';
        to = put_octet(to, address[i]);
    }
    *to = '\0';
    return true;
}

bool ldtap_format_address(uint16_t family, const uint8_t address[16], char text[LDTAP_ADDRESS_TEXT_BYTES]) {
    static const uint8_t zero[16];
    if (memcmp(address, zero, family == AF_INET ? 4 : 16) == 0) {
        return false;
    }
    if (family == AF_INET) {
        return format_ipv4(address, text);
    }
    if (family != AF_INET6) {
        return false;
    }
    struct in6_addr ipv6;
    memcpy(&ipv6, address, sizeof ipv6);
    if (IN6_IS_ADDR_V4MAPPED(&ipv6)) {
        return format_ipv4(address + 12, text);
    }
    return inet_ntop(AF_INET6, &ipv6, text, LDTAP_ADDRESS_TEXT_BYTES) != NULL;
}

void ldtap_span_copy_common(struct ldtap_span *span, const struct ldtap_span_common *common) {
    memcpy(span->trace_id, common->trace_id, sizeof span->trace_id);
    memcpy(span->span_id, common->span_id, sizeof span->span_id);
    memcpy(span->parent_span_id, common->parent_span_id, sizeof span->parent_span_id);
    span->start_time_ns = common->start_time_ns;
    span->end_time_ns = common->end_time_ns;
    span->kind = (uint8_t)common->kind;
    span->status_code = LDTAP_STATUS_UNSET;
    bool remote_unsampled =
        (common->flags & (LDTAP_SPAN_FLAG_REMOTE_PARENT | LDTAP_SPAN_FLAG_UPSTREAM_DECISION)) &&
        !(common->flags & LDTAP_SPAN_FLAG_SAMPLED);
    span->trace_flags = remote_unsampled ? 0 : 1;
}
