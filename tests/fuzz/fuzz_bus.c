/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for common/bus: every input is decoded as an envelope
 * (version, type, check, body), and accepted ones are re-encoded.  Build
 * with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed
 * inputs in the ordinary build. */
#include <stdint.h>
#include <stdlib.h>

#include "bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bus_t *bus;
    if (!bus) {
        bus = bus_new("fuzz", NULL);
    }
    bus_msg_t msg = { 0 };
    if (bus_decode(bus, data, size, &msg) == 0) {
        uint8_t *out;
        size_t out_size;
        if (bus_encode(bus, msg.type, msg.body, &out, &out_size) == 0) {
            free(out);
        }
    }
    bus_msg_clear(&msg);
    return 0;
}
