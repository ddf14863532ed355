/* The --video option of perc-endpoint: "WxH@FPS:KBPS", e.g. 640x360@30:800.
 * Pure text parsing, no I/O, so it is unit-tested on its own
 * (tests/unit/test_endpoint_video_spec.c). */
#ifndef PERC_ENDPOINT_VIDEO_SPEC_H
#define PERC_ENDPOINT_VIDEO_SPEC_H

#include <stdbool.h>
#include <stddef.h>

/* Bounds: width and height 16..7680, fps 1..120, kbps 8..100000, and at
 * most EP_VIDEO_MAX_PACKETS packets per frame at EP_VIDEO_PACKET_BYTES
 * each, so one frame never floods the send queue. */
#define EP_VIDEO_MIN_DIM 16u
#define EP_VIDEO_MAX_DIM 7680u
#define EP_VIDEO_MAX_FPS 120u
#define EP_VIDEO_MIN_KBPS 8u
#define EP_VIDEO_MAX_KBPS 100000u
#define EP_VIDEO_PACKET_BYTES 1200u
#define EP_VIDEO_MAX_PACKETS 64u

typedef struct ep_video_spec {
    unsigned width, height, fps, kbps;
} ep_video_spec;

/* Parses exactly "WxH@FPS:KBPS" (decimal, no sign, no spaces, 'x' or 'X').
 * On failure returns false, leaves *out zeroed and writes a one-line reason
 * into why (if cap > 0). */
bool ep_video_spec_parse(const char *text, ep_video_spec *out, char *why, size_t cap);

/* Octets of one ordinary frame at this rate (at least 1). */
size_t ep_video_frame_bytes(const ep_video_spec *v);

#endif
