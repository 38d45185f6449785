/*
 * status.h - the gRPC status codes the shim answers with: the protocol's
 * vocabulary, shared by the wire (ttrpc.h) and the lifecycle model's
 * refusals (container.h), which knows nothing else of the wire.
 *
 * Layer: base (README, "Architecture").
 */
#ifndef STATUS_H
#define STATUS_H

enum {
	ST_OK = 0,
	ST_CANCELED = 1,
	ST_UNKNOWN = 2,
	ST_INVALID_ARGUMENT = 3,
	ST_DEADLINE_EXCEEDED = 4,
	ST_NOT_FOUND = 5,
	ST_ALREADY_EXISTS = 6,
	ST_RESOURCE_EXHAUSTED = 8,
	ST_FAILED_PRECONDITION = 9,
	ST_UNIMPLEMENTED = 12,
	ST_INTERNAL = 13,
	ST_UNAVAILABLE = 14,
};

#endif
