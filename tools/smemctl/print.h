/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The output layer of smemctl status (print.c): one walk over what status
 * gathered prints it for people, as JSON or as Prometheus metrics, in the
 * manner of iproute2's print_*(PRINT_ANY, key, ...).
 *
 * A value goes to people (a "label: text" line under its section's
 * heading), to JSON (a "key": value member), or both (PRINT_ANY); a NULL
 * label or key leaves it out of that form.  Metrics are separate calls
 * beside the values they count, printed only in the Prometheus format,
 * which prints nothing else.
 */
#ifndef SMEMCTL_PRINT_H
#define SMEMCTL_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum print_format {
	PRINT_FORMAT_HUMAN,
	PRINT_FORMAT_JSON,
	PRINT_FORMAT_PROMETHEUS,	/* node_exporter's textfile collector */
};

enum print_to {
	PRINT_HUMAN = 1,
	PRINT_JSON = 2,
	PRINT_ANY = PRINT_HUMAN | PRINT_JSON,
};

struct metric_label {
	const char *name;
	const char *value;
};

void print_start(enum print_format format);
bool print_section(const char *name, bool present);
void print_section_end(void);
void print_end(void);

void print_string(enum print_to to, const char *key, const char *label, const char *value);
void print_u64(enum print_to to, const char *key, const char *label, uint64_t value);
void print_bool(const char *key, int value);
void print_names(const char *key, const char *label, const char *const *names, size_t n);
void print_line(const char *label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void print_gauge(const char *name, const char *help, uint64_t value);
void print_gauge_flag(const char *name, const char *help, int value);
void print_counter(const char *name, const char *help, uint64_t value);
void print_labeled_gauge(const char *name, const char *help, const struct metric_label *labels,
			 size_t n, uint64_t value);
void print_info_gauge(const char *name, const char *help, const struct metric_label *labels,
		      size_t n);

#endif /* SMEMCTL_PRINT_H */
