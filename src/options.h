/*
 * options.h - a container's runtime options: runc's Options, from the Any
 * containerd passes.  containerd.runc.v1.Options is taken as it is; CRI's
 * runtimeoptions.v1.Options (sent for any runtime type but
 * io.containerd.runc.v2) carries the handler's options table as TOML, in
 * config_body or else in the file config_path names (ctr's
 * --runtime-config-path), with runc's keys (BinaryName, Root, ...).
 * Anything else, an unknown key or a value of the wrong type among them, is
 * an error whose words (*why, in the arena) name it: never silent defaults.
 *
 * Layer: base (README, "Architecture").
 *
 *   containerd_runc_v1_Options *opt;      // NULL: none given, the defaults
 *   if (options_decode(a, &req->options, &opt, &why) < 0) ... INVALID_ARGUMENT
 */
#ifndef OPTIONS_H
#define OPTIONS_H
#include "arena.h"
#include "containerd_runc_v1_options.pb.h"
#include "google_protobuf_any.pb.h"

int options_decode(struct arena *a, const google_protobuf_Any *any,
		   containerd_runc_v1_Options **out, const char **why);

#endif
