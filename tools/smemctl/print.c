// SPDX-License-Identifier: GPL-2.0
/*
 * smemctl status, printed once for all its forms (print.h says how to
 * call it).
 *
 * People: a section's heading, then "  label:  text" lines, the texts
 * aligned; a section without a line prints no heading either.
 * JSON: one object of sections, each an object of members or null, and
 * top-level members after them; one "key": value a line, which
 * smemctl_test.sh relies on.
 * Prometheus: "# HELP" and "# TYPE" once before each metric family, then
 * "name{label="value",...} value" lines; an unknown value is left out, as
 * Prometheus expects, not printed as a number it is not.
 *
 * The state of the output is this file's: status prints one report per
 * run, from one thread.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "print.h"

static struct {
	enum print_format format;
	bool in_section;	/* JSON: members go into a section's object */
	bool section_members;	/* JSON: the section has a member already */
	bool top_members;	/* JSON: the top object has a member already */
	const char *heading;	/* people: the section, until its first line */
	char family[64];	/* Prometheus: the metric family printed last */
} out;

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* The separator and "key": of a member of the object open now. */
static void json_key(const char *key)
{
	if (out.in_section) {
		printf("%s\n    ", out.section_members ? "," : "");
		out.section_members = true;
	} else {
		printf("%s\n  ", out.top_members ? "," : "{");
		out.top_members = true;
	}
	json_str(key);
	fputs(": ", stdout);
}

static bool to_json(enum print_to to, const char *key)
{
	return out.format == PRINT_FORMAT_JSON && (to & PRINT_JSON) && key;
}

static bool to_human(enum print_to to, const char *label)
{
	return out.format == PRINT_FORMAT_HUMAN && (to & PRINT_HUMAN) && label;
}

static void human_label(const char *label)
{
	size_t len = strlen(label);

	if (out.heading) {
		printf("%s\n", out.heading);
		out.heading = NULL;
	}
	printf("  %s:%*s", label, len < 16 ? (int)(16 - len) : 1, "");
}

void print_start(enum print_format format)
{
	memset(&out, 0, sizeof(out));
	out.format = format;
}

/* A section; when @present is false, JSON gives it null and people nothing. */
bool print_section(const char *name, bool present)
{
	if (out.format == PRINT_FORMAT_JSON) {
		out.in_section = false;
		json_key(name);
		fputs(present ? "{" : "null", stdout);
	}
	out.in_section = present;
	out.section_members = false;
	out.heading = present ? name : NULL;
	return present;
}

void print_section_end(void)
{
	if (out.format == PRINT_FORMAT_JSON && out.in_section)
		fputs("\n  }", stdout);
	out.in_section = false;
	out.heading = NULL;
}

void print_end(void)
{
	if (out.format != PRINT_FORMAT_JSON)
		return;
	if (!out.top_members)
		putchar('{');
	fputs("\n}\n", stdout);
}

/* A string, null in JSON when @value is NULL; people see nothing then. */
void print_string(enum print_to to, const char *key, const char *label, const char *value)
{
	if (to_json(to, key)) {
		json_key(key);
		if (value)
			json_str(value);
		else
			fputs("null", stdout);
	}
	if (to_human(to, label) && value) {
		human_label(label);
		printf("%s\n", value);
	}
}

void print_u64(enum print_to to, const char *key, const char *label, uint64_t value)
{
	if (to_json(to, key)) {
		json_key(key);
		printf("%" PRIu64, value);
	}
	if (to_human(to, label)) {
		human_label(label);
		printf("%" PRIu64 "\n", value);
	}
}

/*
 * JSON only: true, false, or null when @value is negative (not known).
 * People read a sentence about it instead (print_line()).
 */
void print_bool(const char *key, int value)
{
	if (!to_json(PRINT_JSON, key))
		return;
	json_key(key);
	fputs(value < 0 ? "null" : value ? "true" : "false", stdout);
}

/* A list of names: a JSON array, or the names separated by spaces. */
void print_names(const char *key, const char *label, const char *const *names, size_t n)
{
	if (to_json(PRINT_JSON, key)) {
		json_key(key);
		putchar('[');
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ", " : "", stdout);
			json_str(names[i]);
		}
		putchar(']');
	}
	if (to_human(PRINT_HUMAN, label)) {
		human_label(label);
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? " " : "", names[i]);
		putchar('\n');
	}
}

/* People only: a line whose text says more than one value. */
void print_line(const char *label, const char *fmt, ...)
{
	va_list ap;

	if (!to_human(PRINT_HUMAN, label))
		return;
	human_label(label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A label value or HELP text: @quote also escapes '"' (label values). */
static void prom_escaped(const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\' || (quote && *s == '"'))
			printf("\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

/*
 * Prometheus only: one sample of metric @name, after its HELP and TYPE
 * unless the sample before was of the same family.
 */
static void metric(const char *name, const char *type, const char *help, uint64_t value,
		   const struct metric_label *labels, size_t n)
{
	if (out.format != PRINT_FORMAT_PROMETHEUS)
		return;
	if (strcmp(out.family, name)) {
		snprintf(out.family, sizeof(out.family), "%s", name);
		printf("# HELP %s ", name);
		prom_escaped(help, false);
		printf("\n# TYPE %s %s\n", name, type);
	}
	fputs(name, stdout);
	for (size_t i = 0; i < n; i++) {
		printf("%s%s=\"", i ? "," : "{", labels[i].name);
		prom_escaped(labels[i].value, true);
		putchar('"');
	}
	printf("%s %" PRIu64 "\n", n ? "}" : "", value);
}

void print_gauge(const char *name, const char *help, uint64_t value)
{
	metric(name, "gauge", help, value, NULL, 0);
}

void print_counter(const char *name, const char *help, uint64_t value)
{
	metric(name, "counter", help, value, NULL, 0);
}

/* A gauge of one of several things, which its labels name. */
void print_labeled_gauge(const char *name, const char *help, const struct metric_label *labels,
			 size_t n, uint64_t value)
{
	metric(name, "gauge", help, value, labels, n);
}

/* A gauge of 1 that says what is so in its labels (an "info" metric). */
void print_info_gauge(const char *name, const char *help, const struct metric_label *labels,
		      size_t n)
{
	metric(name, "gauge", help, 1, labels, n);
}

/* A yes/no gauge, 1 or 0; absent when not known (@value negative). */
void print_gauge_flag(const char *name, const char *help, int value)
{
	if (value >= 0)
		print_gauge(name, help, (uint64_t)!!value);
}
