/*
 * cold.h - code an idle shim never runs (an upgrade, the commands):
 * marked COLD, GCC puts it in .text.unlikely, which the linker lays out
 * apart from the rest, so that its pages are not faulted in (and counted
 * in every shim's RSS) with the code the loop runs.
 *
 * Layer: base (README, "Architecture").
 */
#ifndef COLD_H
#define COLD_H
#define COLD __attribute__((cold))
#endif
