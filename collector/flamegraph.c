/* Flame graph rendering: frames are symbolized once per pc, merged into a tree from the
 * outermost frame up, and drawn bottom-up like Brendan Gregg's flamegraph.pl, with each
 * frame's text escaped for XML (names come from files on disk: any bytes). */
#include "flamegraph.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_common.h"
#include "u64_map.h"

#define IMAGE_WIDTH 1200.0
#define SIDE_MARGIN 10.0
#define FRAME_HEIGHT 16.0
#define TOP_MARGIN 40.0
#define BOTTOM_MARGIN 10.0
#define CHARACTER_WIDTH 7.0 /* of 12px monospace: how much of a label fits */
#define MIN_FRAME_WIDTH 0.1 /* narrower frames (and their children) are not drawn */

struct node {
    const char *name;     /* the function, shared with the frame cache */
    const char *location; /* "file:line" of the first pc merged here, or NULL */
    uint64_t bytes;
    size_t first_child, next_sibling; /* indexes; 0: none (node 0 is the root) */
};

struct frame {
    char *name;
    char *location;
};

struct graph {
    struct node *nodes;
    size_t count, capacity;
    struct frame *frames;
    size_t frame_count, frame_capacity;
    struct ldtap_u64_map frame_by_pc;
    struct ldtap_symbol_process *symbols;
    size_t max_depth;
    bool failed;
};

char *ldtap_format_bytes(uint64_t bytes, char *out, size_t size) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(out, size, "%" PRIu64 " B", bytes);
        return out;
    }
    double value = (double)bytes / 1024.0;
    size_t unit = 0;
    while (value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
        value /= 1024.0;
        unit++;
    }
    snprintf(out, size, "%.1f %s", value, units[unit]);
    return out;
}

static const struct frame *frame_for(struct graph *graph, uint64_t pc) {
    uint64_t index;
    if (ldtap_u64_map_get(&graph->frame_by_pc, pc, &index)) {
        return &graph->frames[index];
    }
    if (!ldtap_array_reserve((void **)&graph->frames, graph->frame_count, &graph->frame_capacity,
                             sizeof *graph->frames)) {
        graph->failed = true;
        return NULL;
    }
    struct ldtap_symbol symbol;
    char name[512], location[512] = "";
    uint64_t address = pc ? pc - 1 : 0; /* return addresses: describe the call */
    ldtap_symbolize(graph->symbols, address, &symbol);
    if (pc) {
        ldtap_symbol_format(&symbol, address, false, name, sizeof name);
    } else {
        snprintf(name, sizeof name, "[stack not received]");
    }
    if (symbol.file) {
        snprintf(location, sizeof location, "%s:%u", ldtap_symbol_basename(symbol.file), symbol.line);
    }
    struct frame *frame = &graph->frames[graph->frame_count];
    frame->name = strdup(name);
    frame->location = location[0] ? strdup(location) : NULL;
    if (!frame->name || (location[0] && !frame->location) ||
        !ldtap_u64_map_put(&graph->frame_by_pc, pc, graph->frame_count)) {
        free(frame->name);
        free(frame->location);
        graph->failed = true;
        return NULL;
    }
    graph->frame_count++;
    return frame;
}

static size_t child_named(struct graph *graph, size_t parent, const struct frame *frame) {
    for (size_t child = graph->nodes[parent].first_child; child; child = graph->nodes[child].next_sibling) {
        if (strcmp(graph->nodes[child].name, frame->name) == 0) {
            return child;
        }
    }
    if (!ldtap_array_reserve((void **)&graph->nodes, graph->count, &graph->capacity, sizeof *graph->nodes)) {
        graph->failed = true;
        return 0;
    }
    size_t child = graph->count++;
    graph->nodes[child] = (struct node){frame->name, frame->location, 0, 0, graph->nodes[parent].first_child};
    graph->nodes[parent].first_child = child;
    return child;
}

static void add_site(struct graph *graph, const struct ldtap_heap_site *site) {
    static const uint64_t unknown_stack = 0;
    const uint64_t *pcs = site->pcs ? site->pcs : &unknown_stack;
    size_t depth = site->pcs ? site->depth : 1;
    size_t node = 0;
    graph->nodes[0].bytes += site->live_bytes;
    for (size_t level = 0; level < depth; level++) {
        const struct frame *frame = frame_for(graph, pcs[depth - 1 - level]); /* outermost first */
        size_t child = frame ? child_named(graph, node, frame) : 0;
        if (!child) {
            return;
        }
        node = child;
        graph->nodes[node].bytes += site->live_bytes;
    }
    graph->max_depth = depth > graph->max_depth ? depth : graph->max_depth;
}

/* Text content or attribute value: XML specials escaped, control characters (not allowed
 * in XML 1.0) and invalid UTF-8 replaced. */
static void append_escaped(struct ldtap_buffer *out, const char *text, size_t length) {
    const uint8_t *bytes = (const uint8_t *)text;
    for (size_t at = 0; at < length;) {
        bool valid;
        size_t span = ldtap_utf8_next(bytes + at, length - at, &valid);
        uint8_t byte = bytes[at];
        if (!valid) {
            ldtap_buffer_append_cstring(out, "\xef\xbf\xbd");
        } else if (byte == '&') {
            ldtap_buffer_append_cstring(out, "&amp;");
        } else if (byte == '<') {
            ldtap_buffer_append_cstring(out, "&lt;");
        } else if (byte == '>') {
            ldtap_buffer_append_cstring(out, "&gt;");
        } else if (byte == '"') {
            ldtap_buffer_append_cstring(out, "&quot;");
        } else if (byte == '\'') {
            ldtap_buffer_append_cstring(out, "&apos;");
        } else if (byte < 0x20 || byte == 0x7f) {
            ldtap_buffer_append_byte(out, '?');
        } else {
            ldtap_buffer_append(out, bytes + at, span);
        }
        at += span;
    }
}

/* Warm colours from the name, so the same function has the same colour in every graph. */
static void frame_colour(const char *name, unsigned *red, unsigned *green, unsigned *blue) {
    uint64_t hash = 1469598103934665603ull;
    for (const char *c = name; *c; c++) {
        hash = (hash ^ (uint8_t)*c) * 1099511628211ull;
    }
    *red = 205 + (unsigned)(hash % 50);
    *green = 80 + (unsigned)((hash >> 8) % 150);
    *blue = (unsigned)((hash >> 16) % 55);
}

static void draw(struct graph *graph, struct ldtap_buffer *out, size_t node, size_t level, double x, double scale,
                 double image_height) {
    const struct node *frame = &graph->nodes[node];
    double width = (double)frame->bytes * scale;
    if (width < MIN_FRAME_WIDTH) {
        return;
    }
    double y = image_height - BOTTOM_MARGIN - (double)(level + 1) * FRAME_HEIGHT;
    char size[32];
    ldtap_format_bytes(frame->bytes, size, sizeof size);
    double share = graph->nodes[0].bytes ? 100.0 * (double)frame->bytes / (double)graph->nodes[0].bytes : 0;
    unsigned red, green, blue;
    frame_colour(frame->name, &red, &green, &blue);
    ldtap_buffer_append_cstring(out, "<g><title>");
    append_escaped(out, frame->name, strlen(frame->name));
    if (frame->location) {
        ldtap_buffer_append_cstring(out, " (");
        append_escaped(out, frame->location, strlen(frame->location));
        ldtap_buffer_append_cstring(out, ")");
    }
    ldtap_buffer_append_format(out, ": %s live (%" PRIu64 " bytes, %.2f%%)</title>", size, frame->bytes,
                               share);
    ldtap_buffer_append_format(
        out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%u,%u,%u)\" rx=\"2\"/>",
        x, y, width, FRAME_HEIGHT - 1, red, green, blue);
    size_t fits = width > 3 * CHARACTER_WIDTH ? (size_t)((width - 6) / CHARACTER_WIDTH) : 0;
    if (fits >= 3) {
        size_t length = strlen(frame->name);
        ldtap_buffer_append_format(out, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + FRAME_HEIGHT - 4.5);
        if (length <= fits) {
            append_escaped(out, frame->name, length);
        } else { /* cut on a character boundary, then mark the cut */
            size_t cut = fits - 2;
            while (cut > 0 && ((uint8_t)frame->name[cut] & 0xc0) == 0x80) {
                cut--;
            }
            append_escaped(out, frame->name, cut);
            ldtap_buffer_append_cstring(out, "..");
        }
        ldtap_buffer_append_cstring(out, "</text>");
    }
    ldtap_buffer_append_cstring(out, "</g>\n");
    for (size_t child = frame->first_child; child; child = graph->nodes[child].next_sibling) {
        draw(graph, out, child, level + 1, x, scale, image_height);
        x += (double)graph->nodes[child].bytes * scale;
    }
}

static void release(struct graph *graph) {
    for (size_t i = 0; i < graph->frame_count; i++) {
        free(graph->frames[i].name);
        free(graph->frames[i].location);
    }
    free(graph->frames);
    free(graph->nodes);
    ldtap_u64_map_free(&graph->frame_by_pc);
}

bool ldtap_flamegraph_render(const struct ldtap_heap_profile *profile, struct ldtap_symbol_process *symbols,
                             const char *title, struct ldtap_buffer *out) {
    struct graph graph = {.symbols = symbols};
    if (!ldtap_array_reserve((void **)&graph.nodes, 0, &graph.capacity, sizeof *graph.nodes)) {
        return false;
    }
    graph.nodes[graph.count++] = (struct node){.name = "all"};
    for (size_t i = 0; i < profile->site_count && !graph.failed; i++) {
        if (profile->sites[i].live_bytes > 0) {
            add_site(&graph, &profile->sites[i]);
        }
    }
    double height = TOP_MARGIN + BOTTOM_MARGIN + (double)(graph.max_depth + 1) * FRAME_HEIGHT;
    double scale = graph.nodes[0].bytes ? (IMAGE_WIDTH - 2 * SIDE_MARGIN) / (double)graph.nodes[0].bytes : 0;
    ldtap_buffer_append_format(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
        "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
        "viewBox=\"0 0 %.0f %.0f\">\n",
        IMAGE_WIDTH, height, IMAGE_WIDTH, height);
    ldtap_buffer_append_cstring(out, "<style>text{font-family:monospace;font-size:12px;fill:#000}"
                                     "g:hover rect{stroke:#000;stroke-width:0.5}</style>\n");
    ldtap_buffer_append_format(out,
                               "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#f8f8f0\"/>\n",
                               IMAGE_WIDTH, height);
    char total[32];
    ldtap_format_bytes(graph.nodes[0].bytes, total, sizeof total);
    ldtap_buffer_append_format(
        out, "<text x=\"%.0f\" y=\"24\" style=\"font-size:16px\" text-anchor=\"middle\">", IMAGE_WIDTH / 2);
    append_escaped(out, title, strlen(title));
    ldtap_buffer_append_format(out, " (estimated live heap %s)</text>\n", total);
    if (graph.nodes[0].bytes) {
        draw(&graph, out, 0, 0, SIDE_MARGIN, scale, height);
    }
    ldtap_buffer_append_cstring(out, "</svg>\n");
    bool ok = !graph.failed && !out->failed;
    release(&graph);
    return ok;
}
