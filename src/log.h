/*
 * log.h - logging to the bundle's `log` FIFO (dup'd onto stderr by the
 * daemon).  Writes never block: a full FIFO drops the line.
 *
 * Layer: base (README, "Architecture").
 *
 *   log_info("created %s", id);
 *   log_error("mount %s: %s", path, strerror(-r));
 */
#ifndef LOG_H
#define LOG_H

extern int log_debug_enabled;

void log_write(const char *level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_info(...)  log_write("info", __VA_ARGS__)
#define log_warn(...)  log_write("warning", __VA_ARGS__)
#define log_error(...) log_write("error", __VA_ARGS__)
#define log_debug(...)                                                                   \
	do {                                                                             \
		if (log_debug_enabled)                                                   \
			log_write("debug", __VA_ARGS__);                                 \
	} while (0)

#endif
