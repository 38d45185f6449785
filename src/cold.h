/*
 * cold.h - code an idle shim never runs (an upgrade, the commands):
 * marked COLD, GCC puts it in .text.unlikely, which src/cold.ld lays out
 * apart from the rest and the daemon keeps out of memory
 * (pages_cold_release), so that its pages are not faulted in (and counted
 * in every shim's RSS) with the code the loop runs.  Whole files that are
 * cold are listed in src/cold.ld instead.
 *
 * Layer: base (README, "Architecture").
 */
#ifndef COLD_H
#define COLD_H
#define COLD __attribute__((cold))
#endif
