/*
 * smaps - summarise the memory use of processes from /proc/PID/smaps_rollup
 * (or /proc/PID/smaps), with an optional per-category breakdown.
 *
 * Single-file tool, C11 + POSIX; builds static with musl.
 * All memory values are in kB, as reported by the kernel.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_BUF 4096
#define LINE_BUF 8192
#define NAME_BUF 256
#define MSG_BUF 512
#define SUBJ_BUF 96

typedef unsigned long long u64;

enum fmt { FMT_TABLE, FMT_TSV, FMT_JSON };

static const char *g_root = "/proc";
static bool g_full, g_breakdown, g_maps;
static enum fmt g_fmt = FMT_TABLE;

static const char usage_text[] =
"Usage: smaps [options] PID...\n"
"       smaps [options] --name NAME [--name NAME]...\n"
"       smaps [options] --cgroup PATH\n"
"Summarise the memory use of processes (all memory values in kB).\n"
"\n"
"Selection (may be combined; a process selected twice is reported once):\n"
"  PID                 a process id\n"
"  -n, --name NAME     every process whose executable basename (readlink\n"
"                      /proc/PID/exe, else /proc/PID/comm) equals NAME\n"
"  -c, --cgroup PATH   every pid in PATH/cgroup.procs; PATH is a cgroup\n"
"                      directory (or its cgroup.procs file), either a full\n"
"                      path or relative to /sys/fs/cgroup, then (cgroup v1)\n"
"                      /sys/fs/cgroup/memory and /sys/fs/cgroup/pids\n"
"\n"
"Measurement:\n"
"  -f, --full          sum /proc/PID/smaps instead of smaps_rollup (smaps is\n"
"                      also used when smaps_rollup does not exist)\n"
"  -b, --breakdown     per-category Rss/Pss/Private/Swap from the full smaps:\n"
"                      text, data, rodata, bss (the executable's file\n"
"                      mappings and the anonymous rw mapping right after\n"
"                      them), heap, stack, anonymous, files (other\n"
"                      file-backed, e.g. shared libraries), special\n"
"                      ([vdso], [vvar], [vsyscall])\n"
"  -m, --maps          also list every mapping (implies --breakdown)\n"
"  -r, --root DIR      read DIR/PID/... instead of /proc/PID/...\n"
"\n"
"Output:\n"
"  (default)           table: one row per process, TOTAL row when several\n"
"  -t, --tsv           header row + tab-separated rows (TOTAL row when\n"
"                      several); with --breakdown one row per category,\n"
"                      with --maps one row per mapping\n"
"  -j, --json          one JSON object {processes, total, errors}\n"
"  -h, --help          show this help\n"
"\n"
"Columns: PID, RSS, PSS, PRIV_CLEAN, PRIV_DIRTY, SWAP (kB), THREADS (from\n"
"status), FDS (entries in /proc/PID/fd), NAME. '-' means unknown.\n"
"\n"
"Exit status: 0 if at least one process was measured, 1 if none could be\n"
"(errors are reported on stderr), 2 on a usage error.\n";

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static void oom(void)
{
    fputs("smaps: out of memory\n", stderr);
    exit(1);
}

static void *xrealloc(void *p, size_t nmemb, size_t size)
{
    if (size && nmemb > SIZE_MAX / size)
        oom();
    size_t bytes = nmemb * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q)
        oom();
    return q;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        oom();
    return d;
}

/* Bounded string copy; always NUL-terminates when n > 0. */
static void copy_str(char *dst, size_t n, const char *src)
{
    if (!n)
        return;
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool fmt_path(char *buf, size_t n, long pid, const char *file)
{
    int r = file ? snprintf(buf, n, "%s/%ld/%s", g_root, pid, file)
                 : snprintf(buf, n, "%s/%ld", g_root, pid);
    return r >= 0 && (size_t)r < n;
}

/*
 * Read one line into buf (without the newline). Overlong lines are
 * truncated and the rest is discarded. Returns 1 for a line, 0 at EOF,
 * -1 on a read error (errno set).
 */
static int get_line(FILE *f, char *buf, size_t n)
{
    errno = 0;
    if (!fgets(buf, (int)n, f))
        return ferror(f) ? -1 : 0;
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '\n') {
        buf[len - 1] = '\0';
        return 1;
    }
    int c;
    while ((c = getc(f)) != EOF && c != '\n')
        ;
    if (c == EOF && ferror(f))
        return -1;
    return 1;
}

/* ------------------------------------------------------------------ */
/* error list (printed on stderr immediately, also kept for --json)     */

struct err {
    char subject[SUBJ_BUF];
    char msg[MSG_BUF];
};

static struct err *g_errs;
static size_t g_nerrs, g_caperrs;

static void report(const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(const char *subject, const char *fmt, ...)
{
    if (g_nerrs == g_caperrs) {
        g_caperrs = g_caperrs ? g_caperrs * 2 : 8;
        g_errs = xrealloc(g_errs, g_caperrs, sizeof *g_errs);
    }
    struct err *e = &g_errs[g_nerrs++];
    copy_str(e->subject, sizeof e->subject, subject);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "smaps: %s: %s\n", e->subject, e->msg);
}

static void subject_pid(char *buf, size_t n, long pid)
{
    snprintf(buf, n, "pid %ld", pid);
}

/* ------------------------------------------------------------------ */
/* smaps parsing                                                        */

struct mem {
    u64 size, rss, pss, pclean, pdirty, swap;
};

enum cat {
    CAT_TEXT, CAT_DATA, CAT_RODATA, CAT_BSS, CAT_HEAP, CAT_STACK,
    CAT_ANON, CAT_FILES, CAT_SPECIAL, CAT_COUNT
};

static const char *const cat_names[CAT_COUNT] = {
    "text", "data", "rodata", "bss", "heap", "stack",
    "anonymous", "files", "special",
};

struct mapping {
    u64 start, end;
    char perms[5];
    enum cat cat;
    struct mem m;
    char *path; /* "" for anonymous */
};

struct maplist {
    struct mapping *v;
    size_t n, cap;
};

static void maplist_free(struct maplist *ml)
{
    for (size_t i = 0; i < ml->n; i++)
        free(ml->v[i].path);
    free(ml->v);
    ml->v = NULL;
    ml->n = ml->cap = 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool parse_hex(const char **pp, u64 *out)
{
    const char *p = *pp;
    u64 v = 0;
    int n = 0, d;
    while ((d = hexval((unsigned char)*p)) >= 0) {
        if (++n > 16)
            return false;
        v = (v << 4) | (u64)d;
        p++;
    }
    if (!n)
        return false;
    *pp = p;
    *out = v;
    return true;
}

static bool parse_dec(const char **pp, u64 *out)
{
    const char *p = *pp;
    u64 v = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        p++;
    }
    *pp = p;
    *out = v;
    return true;
}

struct hdr {
    u64 start, end;
    char perms[5];
    const char *path; /* points into the line */
};

/* "start-end perms offset major:minor inode [path]" */
static bool parse_header(const char *line, struct hdr *h)
{
    const char *p = line;
    u64 off, maj, min, ino;
    if (!parse_hex(&p, &h->start) || *p++ != '-' || !parse_hex(&p, &h->end))
        return false;
    if (*p++ != ' ')
        return false;
    for (int i = 0; i < 4; i++) {
        if (!p[i] || !strchr("rwxsp-", p[i]))
            return false;
        h->perms[i] = p[i];
    }
    h->perms[4] = '\0';
    p += 4;
    if (*p++ != ' ' || !parse_hex(&p, &off) || *p++ != ' ')
        return false;
    if (!parse_hex(&p, &maj) || *p++ != ':' || !parse_hex(&p, &min))
        return false;
    if (*p++ != ' ' || !parse_dec(&p, &ino))
        return false;
    if (*p && *p != ' ' && *p != '\t')
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    if (h->end < h->start)
        return false;
    h->path = p;
    return true;
}

/* "Key:   123 kB" (the unit is optional). */
static bool parse_field(const char *line, char *key, size_t keyn, u64 *val)
{
    const char *p = line;
    size_t k = 0;
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
           (*p >= '0' && *p <= '9') || *p == '_') {
        if (k + 1 >= keyn)
            return false;
        key[k++] = *p++;
    }
    key[k] = '\0';
    if (!k || *p++ != ':')
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!parse_dec(&p, val))
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    if (p[0] == 'k' && p[1] == 'B')
        p += 2;
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0';
}

static u64 *field_slot(struct mem *m, const char *key)
{
    if (!strcmp(key, "Size"))
        return &m->size;
    if (!strcmp(key, "Rss"))
        return &m->rss;
    if (!strcmp(key, "Pss"))
        return &m->pss;
    if (!strcmp(key, "Private_Clean"))
        return &m->pclean;
    if (!strcmp(key, "Private_Dirty"))
        return &m->pdirty;
    if (!strcmp(key, "Swap"))
        return &m->swap;
    return NULL;
}

static void mem_add(struct mem *a, const struct mem *b)
{
    a->size += b->size;
    a->rss += b->rss;
    a->pss += b->pss;
    a->pclean += b->pclean;
    a->pdirty += b->pdirty;
    a->swap += b->swap;
}

/*
 * Parse an smaps-format file. Field values are added to *tot. When ml is
 * given every mapping is collected there. With need_header, fields that
 * come before the first mapping header are ignored (smaps); without it
 * they are counted (smaps_rollup). Malformed lines are skipped.
 * *nrec counts recognised lines. Returns 0, or -1 with errno set.
 */
static int parse_smaps(const char *path, bool need_header, struct mem *tot,
                       struct maplist *ml, size_t *nrec)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char *line = malloc(LINE_BUF);
    if (!line)
        oom();
    bool in_map = false;
    struct mapping *cur = NULL;
    int r;
    *nrec = 0;
    while ((r = get_line(f, line, LINE_BUF)) > 0) {
        struct hdr h;
        if (parse_header(line, &h)) {
            in_map = true;
            (*nrec)++;
            if (ml) {
                if (ml->n == ml->cap) {
                    ml->cap = ml->cap ? ml->cap * 2 : 64;
                    ml->v = xrealloc(ml->v, ml->cap, sizeof *ml->v);
                }
                cur = &ml->v[ml->n++];
                memset(cur, 0, sizeof *cur);
                cur->start = h.start;
                cur->end = h.end;
                memcpy(cur->perms, h.perms, sizeof cur->perms);
                cur->path = xstrdup(h.path);
            }
            continue;
        }
        char key[64];
        u64 v;
        if (!parse_field(line, key, sizeof key, &v))
            continue; /* malformed, or non-numeric like VmFlags */
        if (need_header && !in_map)
            continue;
        (*nrec)++;
        u64 *slot = field_slot(tot, key);
        if (slot)
            *slot += v;
        if (cur && (slot = field_slot(&cur->m, key)))
            *slot += v;
    }
    int saved = errno;
    free(line);
    fclose(f);
    if (r < 0) {
        errno = saved ? saved : EIO;
        return -1;
    }
    return 0;
}

static bool is_bin_cat(enum cat c)
{
    return c == CAT_TEXT || c == CAT_DATA || c == CAT_RODATA;
}

/*
 * Assign a category to every mapping. The executable is exe when one of
 * the mappings has that path, otherwise the first file-backed mapping.
 */
static void classify(struct maplist *ml, const char *exe)
{
    const char *bin = NULL;
    if (exe && *exe) {
        for (size_t i = 0; i < ml->n && !bin; i++)
            if (!strcmp(ml->v[i].path, exe))
                bin = exe;
    }
    for (size_t i = 0; i < ml->n && !bin; i++)
        if (ml->v[i].path[0] == '/')
            bin = ml->v[i].path;

    for (size_t i = 0; i < ml->n; i++) {
        struct mapping *m = &ml->v[i];
        const char *p = m->path;
        if (p[0] == '/') {
            if (bin && !strcmp(p, bin))
                m->cat = m->perms[2] == 'x' ? CAT_TEXT
                       : m->perms[1] == 'w' ? CAT_DATA : CAT_RODATA;
            else
                m->cat = CAT_FILES;
        } else if (p[0] == '[') {
            if (!strcmp(p, "[heap]"))
                m->cat = CAT_HEAP;
            else if (!strncmp(p, "[stack", 6))
                m->cat = CAT_STACK;
            else if (!strcmp(p, "[vdso]") || !strncmp(p, "[vvar", 5) ||
                     !strcmp(p, "[vsyscall]"))
                m->cat = CAT_SPECIAL;
            else
                m->cat = CAT_ANON;
        } else if (p[0] == '\0') {
            const struct mapping *prev = i ? &ml->v[i - 1] : NULL;
            if (prev && is_bin_cat(prev->cat) && prev->end == m->start &&
                m->perms[0] == 'r' && m->perms[1] == 'w')
                m->cat = CAT_BSS;
            else
                m->cat = CAT_ANON;
        } else {
            m->cat = CAT_FILES; /* e.g. anon_inode:..., other file objects */
        }
    }
}

/* ------------------------------------------------------------------ */
/* per-process information                                              */

struct proc {
    long pid;
    char name[NAME_BUF];
    const char *source;
    struct mem m;
    long threads, fds;
    struct mem cats[CAT_COUNT];
    unsigned long ncats[CAT_COUNT];
    struct maplist maps;
};

/* First line of a small file (no newline). */
static bool read_first_line(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[LINE_BUF];
    int r = get_line(f, line, sizeof line);
    fclose(f);
    if (r <= 0)
        return false;
    copy_str(out, n, line);
    return true;
}

/* Raw target of PID/exe; false if unreadable or too long. */
static bool read_exe(long pid, char *out, size_t n)
{
    char path[PATH_BUF];
    if (!fmt_path(path, sizeof path, pid, "exe"))
        return false;
    ssize_t r = readlink(path, out, n);
    if (r <= 0 || (size_t)r >= n)
        return false;
    out[r] = '\0';
    return true;
}

static void exe_basename(const char *exe, char *out, size_t n)
{
    const char *b = strrchr(exe, '/');
    b = b ? b + 1 : exe;
    copy_str(out, n, b);
    static const char del[] = " (deleted)";
    size_t len = strlen(out), dl = sizeof del - 1;
    if (len > dl && !strcmp(out + len - dl, del))
        out[len - dl] = '\0';
}

struct status {
    long threads;
    char state;
    char name[NAME_BUF];
};

static bool read_status(long pid, struct status *st)
{
    char path[PATH_BUF], line[LINE_BUF], key[64];
    st->threads = -1;
    st->state = '\0';
    st->name[0] = '\0';
    if (!fmt_path(path, sizeof path, pid, "status"))
        return false;
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    int r;
    while ((r = get_line(f, line, sizeof line)) > 0) {
        u64 v;
        if (!strncmp(line, "Name:", 5)) {
            const char *p = line + 5;
            while (*p == ' ' || *p == '\t')
                p++;
            copy_str(st->name, sizeof st->name, p);
        } else if (!strncmp(line, "State:", 6)) {
            const char *p = line + 6;
            while (*p == ' ' || *p == '\t')
                p++;
            st->state = *p;
        } else if (parse_field(line, key, sizeof key, &v) &&
                   !strcmp(key, "Threads") && v <= LONG_MAX) {
            st->threads = (long)v;
        }
    }
    fclose(f);
    return r == 0;
}

/* Display / match name: executable basename, else comm, else status Name. */
static void proc_name(long pid, char *out, size_t n, char *exe, size_t exen)
{
    char path[PATH_BUF];
    if (read_exe(pid, exe, exen)) {
        exe_basename(exe, out, n);
        if (*out)
            return;
    } else {
        exe[0] = '\0';
    }
    if (fmt_path(path, sizeof path, pid, "comm") &&
        read_first_line(path, out, n) && *out)
        return;
    struct status st;
    if (read_status(pid, &st) && st.name[0]) {
        copy_str(out, n, st.name);
        return;
    }
    copy_str(out, n, "?");
}

static long count_fds(long pid)
{
    char path[PATH_BUF];
    if (!fmt_path(path, sizeof path, pid, "fd"))
        return -1;
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long n = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    bool bad = errno != 0;
    closedir(d);
    return bad ? -1 : n;
}

/* The process has exited (directory gone, or zombie/dead). */
static bool proc_gone(long pid)
{
    char path[PATH_BUF];
    struct stat sb;
    if (!fmt_path(path, sizeof path, pid, NULL))
        return true;
    if (stat(path, &sb) < 0)
        return errno == ENOENT || errno == ESRCH;
    struct status st;
    if (read_status(pid, &st))
        return st.state == 'Z' || st.state == 'X';
    return false;
}

static void read_error(const char *subj, long pid, const char *path, int err)
{
    if (err == ESRCH || err == ENOENT) {
        if (proc_gone(pid)) {
            report(subj, "process vanished while reading");
            return;
        }
        if (err == ESRCH) {
            report(subj, "no address space (kernel thread?)");
            return;
        }
    }
    report(subj, "cannot read %s: %s", path, strerror(err));
}

/* Measure one process. Returns true when its memory could be read. */
static bool measure(long pid, struct proc *p)
{
    char subj[SUBJ_BUF], path[PATH_BUF];
    char *exe = malloc(PATH_BUF);
    if (!exe)
        oom();
    subject_pid(subj, sizeof subj, pid);
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->threads = p->fds = -1;
    bool ok = false;

    struct stat sb;
    if (!fmt_path(path, sizeof path, pid, NULL)) {
        report(subj, "path too long");
        goto out;
    }
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT || errno == ESRCH || errno == ENOTDIR)
            report(subj, "no such process");
        else
            report(subj, "cannot access %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISDIR(sb.st_mode)) {
        report(subj, "no such process");
        goto out;
    }

    proc_name(pid, p->name, sizeof p->name, exe, PATH_BUF);

    size_t nrec = 0;
    bool need_full = g_full || g_breakdown;
    if (!need_full) {
        if (!fmt_path(path, sizeof path, pid, "smaps_rollup")) {
            report(subj, "path too long");
            goto out;
        }
        if (parse_smaps(path, false, &p->m, NULL, &nrec) == 0) {
            p->source = "smaps_rollup";
        } else if (errno == ENOENT && !proc_gone(pid)) {
            need_full = true; /* no smaps_rollup: old kernel or tree */
        } else {
            read_error(subj, pid, path, errno);
            goto out;
        }
    }
    if (need_full) {
        memset(&p->m, 0, sizeof p->m);
        if (!fmt_path(path, sizeof path, pid, "smaps")) {
            report(subj, "path too long");
            goto out;
        }
        if (parse_smaps(path, true, &p->m, g_breakdown ? &p->maps : NULL,
                        &nrec) < 0) {
            read_error(subj, pid, path, errno);
            goto out;
        }
        p->source = "smaps";
    }
    if (nrec == 0) {
        if (proc_gone(pid))
            report(subj, "process vanished while reading");
        else
            report(subj, "no memory information in %s "
                         "(kernel thread?)", path);
        goto out;
    }

    struct status st;
    if (read_status(pid, &st)) {
        if (st.state == 'Z' || st.state == 'X') {
            report(subj, "process vanished while reading");
            goto out;
        }
        p->threads = st.threads;
    }
    p->fds = count_fds(pid);

    if (g_breakdown) {
        classify(&p->maps, exe);
        for (size_t i = 0; i < p->maps.n; i++) {
            const struct mapping *m = &p->maps.v[i];
            mem_add(&p->cats[m->cat], &m->m);
            p->ncats[m->cat]++;
        }
        if (!g_maps)
            maplist_free(&p->maps);
    }
    ok = true;
out:
    if (!ok)
        maplist_free(&p->maps);
    free(exe);
    return ok;
}

/* ------------------------------------------------------------------ */
/* process selection                                                    */

struct pidlist {
    long *v;
    size_t n, cap;
};

static void pid_push(struct pidlist *l, long pid)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->v = xrealloc(l->v, l->cap, sizeof *l->v);
    }
    l->v[l->n++] = pid;
}

/* Strict decimal pid: 1..INT_MAX, digits only. */
static bool parse_pid(const char *s, long *out)
{
    u64 v;
    const char *p = s;
    if (!parse_dec(&p, &v) || *p || v == 0 || v > INT_MAX)
        return false;
    *out = (long)v;
    return true;
}

struct pididx {
    long pid;
    size_t idx;
};

static int cmp_pididx(const void *a, const void *b)
{
    const struct pididx *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Drop repeated pids, keeping the first occurrence and the order. */
static void pid_dedup(struct pidlist *l)
{
    if (l->n < 2)
        return;
    struct pididx *t = xrealloc(NULL, l->n, sizeof *t);
    bool *dup = xrealloc(NULL, l->n, sizeof *dup);
    for (size_t i = 0; i < l->n; i++) {
        t[i].pid = l->v[i];
        t[i].idx = i;
        dup[i] = false;
    }
    qsort(t, l->n, sizeof *t, cmp_pididx);
    for (size_t i = 1; i < l->n; i++)
        if (t[i].pid == t[i - 1].pid)
            dup[t[i].idx] = true;
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        if (!dup[i])
            l->v[k++] = l->v[i];
    l->n = k;
    free(t);
    free(dup);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static void select_names(struct pidlist *l, char **names, size_t nnames)
{
    if (!nnames)
        return;
    size_t *hits = xrealloc(NULL, nnames, sizeof *hits);
    memset(hits, 0, nnames * sizeof *hits);
    char *exe = malloc(PATH_BUF);
    if (!exe)
        oom();
    DIR *d = opendir(g_root);
    if (!d) {
        for (size_t i = 0; i < nnames; i++) {
            char subj[SUBJ_BUF];
            snprintf(subj, sizeof subj, "name %.80s", names[i]);
            report(subj, "cannot list %s: %s", g_root, strerror(errno));
        }
        free(hits);
        free(exe);
        return;
    }
    struct pidlist found = {0};
    struct dirent *de;
    while ((de = readdir(d))) {
        long pid;
        if (!parse_pid(de->d_name, &pid))
            continue;
        char name[NAME_BUF];
        proc_name(pid, name, sizeof name, exe, PATH_BUF);
        for (size_t i = 0; i < nnames; i++) {
            if (!strcmp(name, names[i])) {
                pid_push(&found, pid);
                hits[i]++;
                break;
            }
        }
    }
    closedir(d);
    if (found.n)
        qsort(found.v, found.n, sizeof *found.v, cmp_long);
    for (size_t i = 0; i < found.n; i++)
        pid_push(l, found.v[i]);
    free(found.v);
    for (size_t i = 0; i < nnames; i++) {
        if (!hits[i]) {
            char subj[SUBJ_BUF];
            snprintf(subj, sizeof subj, "name %.80s", names[i]);
            report(subj, "no such process");
        }
    }
    free(hits);
    free(exe);
}

/* Open the cgroup.procs of a cgroup given by directory or file path. */
static FILE *open_procs(const char *cand, char *used, size_t n)
{
    struct stat sb;
    int r;
    if (stat(cand, &sb) < 0)
        return NULL;
    if (S_ISDIR(sb.st_mode))
        r = snprintf(used, n, "%s/cgroup.procs", cand);
    else
        r = snprintf(used, n, "%s", cand);
    if (r < 0 || (size_t)r >= n) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return fopen(used, "re");
}

static void select_cgroup(struct pidlist *l, const char *cg)
{
    static const char *const bases[] = {
        "/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids",
    };
    char subj[SUBJ_BUF], cand[PATH_BUF], used[PATH_BUF];
    snprintf(subj, sizeof subj, "cgroup %.80s", cg);
    FILE *f = NULL;
    int err = ENOENT;
    bool explicit_rel = !strncmp(cg, "./", 2) || !strncmp(cg, "../", 3);

    /* As given: absolute paths and explicitly relative ./ ../ paths. */
    if (cg[0] == '/' || explicit_rel) {
        f = open_procs(cg, used, sizeof used);
        if (!f && errno != ENOENT)
            err = errno;
    }
    /* Relative to the cgroup mount points (a path like /system.slice/x as
     * printed in /proc/PID/cgroup is also tried there). */
    if (!explicit_rel && strncmp(cg, "/sys/", 5)) {
        for (size_t i = 0; !f && i < sizeof bases / sizeof bases[0]; i++) {
            int r = snprintf(cand, sizeof cand, "%s%s%s", bases[i],
                             cg[0] == '/' ? "" : "/", cg);
            if (r < 0 || (size_t)r >= sizeof cand)
                continue;
            f = open_procs(cand, used, sizeof used);
            if (!f && errno != ENOENT)
                err = errno;
        }
    }
    /* Finally relative to the current directory. */
    if (!f && cg[0] != '/' && !explicit_rel) {
        f = open_procs(cg, used, sizeof used);
        if (!f && errno != ENOENT)
            err = errno;
    }
    if (!f) {
        report(subj, "cannot open cgroup.procs: %s", strerror(err));
        return;
    }
    char line[256];
    size_t n = 0;
    int r;
    while ((r = get_line(f, line, sizeof line)) > 0) {
        long pid;
        if (parse_pid(line, &pid)) {
            pid_push(l, pid);
            n++;
        }
    }
    if (r < 0)
        report(subj, "cannot read %s: %s", used, strerror(errno));
    else if (!n)
        report(subj, "no processes in %s", used);
    fclose(f);
}

/* ------------------------------------------------------------------ */
/* output                                                               */

/* Copy for table/TSV output: control characters become '?'. */
static void sanitize(char *dst, size_t n, const char *src)
{
    copy_str(dst, n, src);
    for (char *p = dst; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void put_sane(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
}

static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;
    unsigned long cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static void json_str(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    putchar('"');
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar((int)c);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            putchar((int)c);
            p++;
        } else {
            size_t n = utf8_len(p);
            if (n) {
                fwrite(p, 1, n, stdout);
                p += n;
            } else {
                fputs("\\ufffd", stdout);
                p++;
            }
        }
    }
    putchar('"');
}

static void print_count(long v, int width)
{
    if (v < 0)
        printf("%*s", width, "-");
    else
        printf("%*ld", width, v);
}

static void json_count(long v)
{
    if (v < 0)
        fputs("null", stdout);
    else
        printf("%ld", v);
}

struct totals {
    struct mem m;
    long threads, fds;
};

static void compute_totals(const struct proc *ps, size_t n, struct totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        mem_add(&t->m, &ps[i].m);
        if (ps[i].threads > 0)
            t->threads += ps[i].threads;
        if (ps[i].fds > 0)
            t->fds += ps[i].fds;
    }
}

static void cat_total(const struct proc *p, struct mem *m, unsigned long *n)
{
    memset(m, 0, sizeof *m);
    *n = 0;
    for (int c = 0; c < CAT_COUNT; c++) {
        mem_add(m, &p->cats[c]);
        *n += p->ncats[c];
    }
}

/* --- table --- */

static void table_summary(const struct proc *ps, size_t n)
{
    printf("%8s %10s %10s %11s %11s %10s %8s %6s  %s\n", "PID", "RSS_kB",
           "PSS_kB", "PRIV_CLEAN", "PRIV_DIRTY", "SWAP_kB", "THREADS", "FDS",
           "NAME");
    for (size_t i = 0; i < n; i++) {
        const struct proc *p = &ps[i];
        printf("%8ld %10llu %10llu %11llu %11llu %10llu ", p->pid, p->m.rss,
               p->m.pss, p->m.pclean, p->m.pdirty, p->m.swap);
        print_count(p->threads, 8);
        putchar(' ');
        print_count(p->fds, 6);
        fputs("  ", stdout);
        put_sane(p->name);
        putchar('\n');
    }
    if (n > 1) {
        struct totals t;
        compute_totals(ps, n, &t);
        printf("%8s %10llu %10llu %11llu %11llu %10llu %8ld %6ld  (%zu processes)\n",
               "TOTAL", t.m.rss, t.m.pss, t.m.pclean, t.m.pdirty, t.m.swap,
               t.threads, t.fds, n);
    }
}

static void table_breakdown(const struct proc *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct proc *p = &ps[i];
        char name[NAME_BUF];
        sanitize(name, sizeof name, p->name);
        if (i)
            putchar('\n');
        printf("PID %ld (%s)  threads ", p->pid, name);
        print_count(p->threads, 0);
        fputs("  fds ", stdout);
        print_count(p->fds, 0);
        putchar('\n');
        printf("%-10s %10s %10s %10s %10s %8s\n", "CATEGORY", "RSS_kB",
               "PSS_kB", "PRIV_kB", "SWAP_kB", "MAPPINGS");
        for (int c = 0; c < CAT_COUNT; c++) {
            const struct mem *m = &p->cats[c];
            printf("%-10s %10llu %10llu %10llu %10llu %8lu\n", cat_names[c],
                   m->rss, m->pss, m->pclean + m->pdirty, m->swap, p->ncats[c]);
        }
        struct mem t;
        unsigned long tn;
        cat_total(p, &t, &tn);
        printf("%-10s %10llu %10llu %10llu %10llu %8lu\n", "TOTAL", t.rss,
               t.pss, t.pclean + t.pdirty, t.swap, tn);
        if (g_maps) {
            printf("\n%-12s %-12s %-4s %-10s %9s %9s %9s %9s %9s  %s\n",
                   "START", "END", "PERM", "CATEGORY", "SIZE_kB", "RSS_kB",
                   "PSS_kB", "PRIV_kB", "SWAP_kB", "PATH");
            for (size_t k = 0; k < p->maps.n; k++) {
                const struct mapping *m = &p->maps.v[k];
                printf("%012llx %012llx %-4s %-10s %9llu %9llu %9llu %9llu %9llu  ",
                       m->start, m->end, m->perms, cat_names[m->cat], m->m.size,
                       m->m.rss, m->m.pss, m->m.pclean + m->m.pdirty, m->m.swap);
                put_sane(m->path);
                putchar('\n');
            }
        }
    }
}

/* --- TSV --- */

static void tsv_summary(const struct proc *ps, size_t n)
{
    puts("pid\tname\trss_kb\tpss_kb\tprivate_clean_kb\tprivate_dirty_kb"
         "\tswap_kb\tthreads\tfds\tsource");
    for (size_t i = 0; i < n; i++) {
        const struct proc *p = &ps[i];
        printf("%ld\t", p->pid);
        put_sane(p->name);
        printf("\t%llu\t%llu\t%llu\t%llu\t%llu\t", p->m.rss, p->m.pss,
               p->m.pclean, p->m.pdirty, p->m.swap);
        print_count(p->threads, 0);
        putchar('\t');
        print_count(p->fds, 0);
        printf("\t%s\n", p->source);
    }
    if (n > 1) {
        struct totals t;
        compute_totals(ps, n, &t);
        printf("TOTAL\t-\t%llu\t%llu\t%llu\t%llu\t%llu\t%ld\t%ld\t-\n",
               t.m.rss, t.m.pss, t.m.pclean, t.m.pdirty, t.m.swap, t.threads,
               t.fds);
    }
}

static void tsv_breakdown(const struct proc *ps, size_t n)
{
    if (g_maps) {
        puts("pid\tstart\tend\tperms\tcategory\tsize_kb\trss_kb\tpss_kb"
             "\tprivate_kb\tswap_kb\tpath");
        for (size_t i = 0; i < n; i++) {
            const struct proc *p = &ps[i];
            for (size_t k = 0; k < p->maps.n; k++) {
                const struct mapping *m = &p->maps.v[k];
                printf("%ld\t%llx\t%llx\t%s\t%s\t%llu\t%llu\t%llu\t%llu\t%llu\t",
                       p->pid, m->start, m->end, m->perms, cat_names[m->cat],
                       m->m.size, m->m.rss, m->m.pss,
                       m->m.pclean + m->m.pdirty, m->m.swap);
                put_sane(m->path);
                putchar('\n');
            }
        }
        return;
    }
    puts("pid\tcategory\trss_kb\tpss_kb\tprivate_kb\tswap_kb\tmappings");
    for (size_t i = 0; i < n; i++) {
        const struct proc *p = &ps[i];
        for (int c = 0; c < CAT_COUNT; c++) {
            const struct mem *m = &p->cats[c];
            printf("%ld\t%s\t%llu\t%llu\t%llu\t%llu\t%lu\n", p->pid,
                   cat_names[c], m->rss, m->pss, m->pclean + m->pdirty,
                   m->swap, p->ncats[c]);
        }
        struct mem t;
        unsigned long tn;
        cat_total(p, &t, &tn);
        printf("%ld\ttotal\t%llu\t%llu\t%llu\t%llu\t%lu\n", p->pid, t.rss,
               t.pss, t.pclean + t.pdirty, t.swap, tn);
    }
}

/* --- JSON --- */

static void json_mem(const struct mem *m)
{
    printf("\"rss_kb\": %llu, \"pss_kb\": %llu, \"private_clean_kb\": %llu, "
           "\"private_dirty_kb\": %llu, \"swap_kb\": %llu",
           m->rss, m->pss, m->pclean, m->pdirty, m->swap);
}

static void json_catmem(const struct mem *m, unsigned long n)
{
    printf("{\"rss_kb\": %llu, \"pss_kb\": %llu, \"private_kb\": %llu, "
           "\"swap_kb\": %llu, \"mappings\": %lu}",
           m->rss, m->pss, m->pclean + m->pdirty, m->swap, n);
}

static void json_output(const struct proc *ps, size_t n)
{
    puts("{\n  \"unit\": \"kB\",\n  \"processes\": [");
    for (size_t i = 0; i < n; i++) {
        const struct proc *p = &ps[i];
        printf("    {\"pid\": %ld, \"name\": ", p->pid);
        json_str(p->name);
        printf(", \"source\": \"%s\", ", p->source);
        json_mem(&p->m);
        fputs(", \"threads\": ", stdout);
        json_count(p->threads);
        fputs(", \"fds\": ", stdout);
        json_count(p->fds);
        if (g_breakdown) {
            fputs(",\n     \"breakdown\": {", stdout);
            for (int c = 0; c < CAT_COUNT; c++) {
                printf("%s\n       \"%s\": ", c ? "," : "", cat_names[c]);
                json_catmem(&p->cats[c], p->ncats[c]);
            }
            struct mem t;
            unsigned long tn;
            cat_total(p, &t, &tn);
            fputs(",\n       \"total\": ", stdout);
            json_catmem(&t, tn);
            fputs("}", stdout);
        }
        if (g_maps) {
            fputs(",\n     \"maps\": [", stdout);
            for (size_t k = 0; k < p->maps.n; k++) {
                const struct mapping *m = &p->maps.v[k];
                printf("%s\n       {\"start\": \"%llx\", \"end\": \"%llx\", "
                       "\"perms\": \"%s\", \"category\": \"%s\", "
                       "\"size_kb\": %llu, \"rss_kb\": %llu, \"pss_kb\": %llu, "
                       "\"private_kb\": %llu, \"swap_kb\": %llu, \"path\": ",
                       k ? "," : "", m->start, m->end, m->perms,
                       cat_names[m->cat], m->m.size, m->m.rss, m->m.pss,
                       m->m.pclean + m->m.pdirty, m->m.swap);
                json_str(m->path);
                putchar('}');
            }
            fputs("]", stdout);
        }
        printf("}%s\n", i + 1 < n ? "," : "");
    }
    struct totals t;
    compute_totals(ps, n, &t);
    printf("  ],\n  \"total\": {\"processes\": %zu, ", n);
    json_mem(&t.m);
    printf(", \"threads\": %ld, \"fds\": %ld},\n  \"errors\": [", t.threads,
           t.fds);
    for (size_t i = 0; i < g_nerrs; i++) {
        printf("%s\n    {\"subject\": ", i ? "," : "");
        json_str(g_errs[i].subject);
        fputs(", \"error\": ", stdout);
        json_str(g_errs[i].msg);
        putchar('}');
    }
    puts("]\n}");
}

/* ------------------------------------------------------------------ */

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("smaps: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\nTry 'smaps -h' for help.\n", stderr);
    va_end(ap);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"name", required_argument, NULL, 'n'},
        {"cgroup", required_argument, NULL, 'c'},
        {"full", no_argument, NULL, 'f'},
        {"breakdown", no_argument, NULL, 'b'},
        {"maps", no_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {"tsv", no_argument, NULL, 't'},
        {"root", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    char **names = xrealloc(NULL, (size_t)argc + 1, sizeof *names);
    char **cgroups = xrealloc(NULL, (size_t)argc + 1, sizeof *cgroups);
    size_t nnames = 0, ncgroups = 0;
    bool json = false, tsv = false;
    int c, rc = 2;
    struct pidlist pids = {0};
    struct proc *ps = NULL;
    size_t n = 0;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hn:c:fbmjtr:", lopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            rc = 0;
            goto done;
        case 'n':
            names[nnames++] = optarg;
            break;
        case 'c':
            cgroups[ncgroups++] = optarg;
            break;
        case 'f':
            g_full = true;
            break;
        case 'b':
            g_breakdown = true;
            break;
        case 'm':
            g_maps = g_breakdown = true;
            break;
        case 'j':
            json = true;
            break;
        case 't':
            tsv = true;
            break;
        case 'r':
            g_root = optarg;
            break;
        case ':':
            for (const struct option *o = lopts; o->name; o++)
                if (o->val == optopt)
                    usage_error("option -%c/--%s needs an argument",
                                optopt, o->name);
            goto done;
        default:
            if (optopt > 0 && optopt < 0x7f)
                usage_error("unknown option -%c", optopt);
            else if (optind > 0 && optind <= argc && argv[optind - 1])
                usage_error("unknown option %s", argv[optind - 1]);
            else
                usage_error("unknown option");
            goto done;
        }
    }
    if (json && tsv) {
        usage_error("%s", "--json and --tsv are exclusive");
        goto done;
    }
    g_fmt = json ? FMT_JSON : tsv ? FMT_TSV : FMT_TABLE;
    if (!*g_root || strlen(g_root) > PATH_BUF - 64) {
        usage_error("%s", "bad --root");
        goto done;
    }
    if (optind >= argc && !nnames && !ncgroups) {
        usage_error("%s", "no process given (PID, --name or --cgroup)");
        goto done;
    }

    for (int i = optind; i < argc; i++) {
        long pid;
        if (parse_pid(argv[i], &pid)) {
            pid_push(&pids, pid);
        } else {
            char subj[SUBJ_BUF];
            snprintf(subj, sizeof subj, "pid %.64s", argv[i]);
            report(subj, "invalid pid");
        }
    }
    select_names(&pids, names, nnames);
    for (size_t i = 0; i < ncgroups; i++)
        select_cgroup(&pids, cgroups[i]);
    pid_dedup(&pids);

    ps = xrealloc(NULL, pids.n ? pids.n : 1, sizeof *ps);
    for (size_t i = 0; i < pids.n; i++)
        if (measure(pids.v[i], &ps[n]))
            n++;

    if (g_fmt == FMT_JSON)
        json_output(ps, n);
    else if (n && g_fmt == FMT_TSV)
        g_breakdown ? tsv_breakdown(ps, n) : tsv_summary(ps, n);
    else if (n)
        g_breakdown ? table_breakdown(ps, n) : table_summary(ps, n);

    rc = n ? 0 : 1;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "smaps: write error: %s\n", strerror(errno));
        rc = 1;
    }
done:
    for (size_t i = 0; i < n; i++)
        maplist_free(&ps[i].maps);
    free(ps);
    free(pids.v);
    free(names);
    free(cgroups);
    free(g_errs);
    return rc;
}
