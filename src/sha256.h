/*
 * sha256.h - SHA-256, used only to name the shim's socket the way the Go
 * shim does (hex digest of the grouping path).
 *
 * Layer: base (README, "Architecture").
 */
#ifndef SHA256_H
#define SHA256_H
#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t out[32]);
/* out receives 64 lowercase hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char out[65]);

#endif
