/* --video WxH@FPS:KBPS: see video_spec.h. */
#include "video_spec.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Reads a decimal number of at most 9 digits at *p; advances *p. */
static bool read_uint(const char **p, unsigned *out)
{
    const char *s = *p;
    uint32_t v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == 9)
            return false;
        v = v * 10u + (uint32_t)(s[n] - '0');
        n++;
    }
    if (n == 0)
        return false;
    *p = s + n;
    *out = (unsigned)v;
    return true;
}

static bool spec_fail(ep_video_spec *out, char *why, size_t cap, const char *msg)
{
    memset(out, 0, sizeof *out);
    if (why && cap)
        snprintf(why, cap, "%s", msg);
    return false;
}

bool ep_video_spec_parse(const char *text, ep_video_spec *out, char *why, size_t cap)
{
    ep_video_spec v = {0, 0, 0, 0};
    if (!out)
        return false;
    if (!text)
        return spec_fail(out, why, cap, "no value");
    const char *p = text;
    if (!read_uint(&p, &v.width))
        return spec_fail(out, why, cap, "expected WxH@FPS:KBPS (e.g. 640x360@30:800): no width");
    if (*p != 'x' && *p != 'X')
        return spec_fail(out, why, cap, "expected 'x' after the width (WxH@FPS:KBPS)");
    p++;
    if (!read_uint(&p, &v.height))
        return spec_fail(out, why, cap, "expected a height after 'x' (WxH@FPS:KBPS)");
    if (*p++ != '@')
        return spec_fail(out, why, cap, "expected '@FPS' after the height (WxH@FPS:KBPS)");
    if (!read_uint(&p, &v.fps))
        return spec_fail(out, why, cap, "expected a frame rate after '@' (WxH@FPS:KBPS)");
    if (*p++ != ':')
        return spec_fail(out, why, cap, "expected ':KBPS' after the frame rate (WxH@FPS:KBPS)");
    if (!read_uint(&p, &v.kbps))
        return spec_fail(out, why, cap, "expected a bit rate in kbit/s after ':' (WxH@FPS:KBPS)");
    if (*p != '\0')
        return spec_fail(out, why, cap, "unexpected characters after KBPS (WxH@FPS:KBPS)");
    if (v.width < EP_VIDEO_MIN_DIM || v.width > EP_VIDEO_MAX_DIM || v.height < EP_VIDEO_MIN_DIM ||
        v.height > EP_VIDEO_MAX_DIM)
        return spec_fail(out, why, cap, "width and height must be 16..7680");
    if (v.fps < 1 || v.fps > EP_VIDEO_MAX_FPS)
        return spec_fail(out, why, cap, "the frame rate must be 1..120");
    if (v.kbps < EP_VIDEO_MIN_KBPS || v.kbps > EP_VIDEO_MAX_KBPS)
        return spec_fail(out, why, cap, "the bit rate must be 8..100000 kbit/s");
    /* A keyframe is a few ordinary frames (media_source.c): keep even that
     * within the packet budget. */
    if (ep_video_frame_bytes(&v) * 4u > (size_t)EP_VIDEO_PACKET_BYTES * EP_VIDEO_MAX_PACKETS)
        return spec_fail(out, why, cap,
                    "too many bits per frame: raise FPS or lower KBPS (at most about 19 KB a frame)");
    *out = v;
    return true;
}

size_t ep_video_frame_bytes(const ep_video_spec *v)
{
    if (!v || v->fps == 0)
        return 1;
    uint64_t bytes = (uint64_t)v->kbps * 1000u / 8u / v->fps;
    return bytes ? (size_t)bytes : 1;
}
