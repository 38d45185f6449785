/*
 * unit_mount.c - unit tests: rootfs mounts of every kind containerd sends.
 */
#include "unit.h"

/* opts from a NULL-terminated list */
static struct pbstrlist mopts_of(struct arena *a, const char *const *v)
{
	struct pbstrlist l = { 0 };
	for (; *v; v++)
		pbstrlist_add(a, &l, *v, strlen(*v));
	return l;
}

/* a forked child can make a user namespace (not so under qemu-user, whose
 * threads make unshare(CLONE_NEWUSER) fail with EINVAL) */
static int userns_possible(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	int ws = -1;
	return pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) &&
	       WEXITSTATUS(ws) == 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* the loop device backed by file, from sysfs ("" if none) */
static void loop_of(const char *file, char *dev, size_t cap)
{
	dev[0] = 0;
	for (int i = 0; i < 256 && !dev[0]; i++) {
		char p[128], b[1024];
		snprintf(p, sizeof(p), "/sys/block/loop%d/loop/backing_file", i);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(b, sizeof(b), f)) {
			b[strcspn(b, "\n")] = 0;
			if (!strcmp(b, file))
				snprintf(dev, cap, "loop%d", i);
		}
		fclose(f);
	}
}

static void test_mount_kinds(void)
{
	begin("idmap lists, fuse helper argv");
	CHECK(idmap_valid("0:100000:65536"));
	CHECK(idmap_valid("0:1000:1,1:100000:65535"));
	CHECK(!idmap_valid("0:1"));
	CHECK(!idmap_valid("0:1:0"));
	CHECK(!idmap_valid("a:b:c"));
	CHECK(!idmap_valid("0:1:2,"));
	CHECK(!idmap_valid("0:1:2:3"));
	CHECK(!idmap_valid(""));
	CHECK(!idmap_valid("0:99999999999:1"));
	struct arena *a = arena_new();
	static const char *const fo[] = { "lowerdir=/l", "upperdir=/u", NULL };
	struct pbstrlist fl = mopts_of(a, fo);
	const char *argv[16];
	CHECK(mount_helper_argv("fuse3.fuse-overlayfs", "overlay", &fl, "/t", argv, 16) ==
	      9);
	CHECK(!strcmp(argv[0], "mount.fuse3") && !strcmp(argv[1], "overlay") &&
	      !strcmp(argv[2], "/t") && !strcmp(argv[3], "-o") &&
	      !strcmp(argv[4], "lowerdir=/l") && !strcmp(argv[6], "upperdir=/u") &&
	      !strcmp(argv[7], "-t") && !strcmp(argv[8], "fuse-overlayfs") &&
	      argv[9] == NULL);
	CHECK(mount_helper_argv("fuse.sshfs", "h:/", &fl, "/t", argv, 16) == 9 &&
	      !strcmp(argv[0], "mount.fuse") && !strcmp(argv[8], "sshfs"));
	CHECK(mount_helper_argv("overlay", "overlay", &fl, "/t", argv, 16) == 0);
	CHECK(mount_helper_argv("fuse3.x", "s", &fl, "/t", argv, 4) == -E2BIG);
	static const char *const half[] = { "bind", "uidmap=0:1:1", NULL };
	struct pbstrlist hl = mopts_of(a, half);
	CHECK(mount_apply("none", "/", &hl, "/nonexistent-target") == -EINVAL);
	end();

	if (geteuid() != 0) {
		arena_free(a);
		return;
	}
	char base[] = "/tmp/shim-unit-mnt-XXXXXX";
	CHECK(mkdtemp(base) != NULL);
	char img[128], target[128], probe[192], dev[32];
	snprintf(target, sizeof(target), "%s/rootfs", base);
	mkdir(target, 0755);

	begin("loop: an ext4 image mounted read-only, the device detached at unmount");
	snprintf(img, sizeof(img), "%s/img.ext4", base);
	sh("mkdir -p %s/content/etc && echo hi >%s/content/etc/hello", base, base);
	if (sh("mkfs.ext4 -q -F -d %s/content %s 8M >/dev/null 2>&1", base, img) != 0) {
		printf("# skip loop: mkfs.ext4 failed\n");
	} else {
		static const char *const lo[] = { "loop", "ro", NULL };
		struct pbstrlist ll = mopts_of(a, lo);
		int r = mount_apply("ext4", img, &ll, target);
		CHECK(r == 0);
		snprintf(probe, sizeof(probe), "%s/etc/hello", target);
		CHECK(access(probe, R_OK) == 0);
		struct statvfs sv;
		CHECK(statvfs(target, &sv) == 0 && (sv.f_flag & ST_RDONLY));
		loop_of(img, dev, sizeof(dev));
		CHECK(dev[0] != 0);
		CHECK(mount_unmount_all(target) == 0);
		for (int i = 0; i < 200 && dev[0]; i++) {
			usleep(10000);
			loop_of(img, dev, sizeof(dev));
		}
		CHECK(dev[0] == 0); /* autoclear */
		/* a missing image is an error, and takes no device */
		snprintf(probe, sizeof(probe), "%s/missing.img", base);
		CHECK(mount_apply("ext4", probe, &ll, target) == -ENOENT);
	}
	end();

	begin("idmapped bind and overlay: root's files show as the mapped root");
	skip_if(syscall(428 /* open_tree: the same number on every architecture */, -1,
			"", 0) < 0 &&
			errno == ENOSYS,
		"no open_tree(2) here (kernel before 5.2, or qemu-user)");
	char lower[160], upper[160], work[160], opt[600];
	snprintf(lower, sizeof(lower), "%s/layers/1/fs", base);
	sh("mkdir -p %s/layers/1/fs %s/layers/2/fs %s/up %s/wk && touch %s/layers/1/fs/f "
	   "%s/layers/2/fs/g && chown 0:0 %s/layers/1/fs/f",
	   base, base, base, base, base, base, base);
	static const char *const bi[] = { "bind", "uidmap=0:100000:65536",
					  "gidmap=0:200000:65536", NULL };
	struct pbstrlist bl = mopts_of(a, bi);
	struct stat st;
	int r = mount_apply("none", lower, &bl, target);
	CHECK(r == 0);
	snprintf(probe, sizeof(probe), "%s/f", target);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000 && st.st_gid == 200000);
	CHECK(mount_unmount_all(target) == 0);
	CHECK(stat(probe, &st) < 0);

	snprintf(upper, sizeof(upper), "%s/up", base);
	snprintf(work, sizeof(work), "%s/wk", base);
	snprintf(opt, sizeof(opt), "lowerdir=%s/layers/2/fs:%s/layers/1/fs", base, base);
	char up[200], wk[200];
	snprintf(up, sizeof(up), "upperdir=%s", upper);
	snprintf(wk, sizeof(wk), "workdir=%s", work);
	const char *ov[] = { "index=off",
			     opt,
			     up,
			     wk,
			     "uidmap=0:100000:65536",
			     "gidmap=0:100000:65536",
			     NULL };
	struct pbstrlist ol = mopts_of(a, ov);
	r = mount_apply("overlay", "overlay", &ol, target);
	CHECK(r == 0);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000);
	snprintf(probe, sizeof(probe), "%s/g", target);
	CHECK(stat(probe, &st) == 0);
	/* the idmapped lower tree was only a step: nothing left in base */
	CHECK(sh("ls -a %s | grep -q idmapped", base) != 0);
	CHECK(mount_unmount_all(target) == 0);
	/* lowerdirs whose common prefix is not a directory: ".../fs", ".../fsx" */
	sh("mkdir -p %s/layers/1/fsx && touch %s/layers/1/fsx/h", base, base);
	snprintf(opt, sizeof(opt), "lowerdir=%s/layers/1/fsx:%s/layers/1/fs", base, base);
	ov[1] = opt;
	ol = mopts_of(a, ov);
	CHECK(mount_apply("overlay", "overlay", &ol, target) == 0);
	snprintf(probe, sizeof(probe), "%s/h", target);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000);
	snprintf(probe, sizeof(probe), "%s/f", target);
	CHECK(stat(probe, &st) == 0 && st.st_uid == 100000);
	CHECK(mount_unmount_all(target) == 0);
	end();

	begin("read-only bind in a user namespace keeps its locked flags");
	skip_if(!userns_possible(),
		"no user namespace here (disabled, or qemu-user: a threaded process)");
	char src[160];
	snprintf(src, sizeof(src), "%s/locked", base);
	mkdir(src, 0755);
	CHECK(mount("tmpfs", src, "tmpfs", MS_NODEV | MS_NOSUID | MS_NOEXEC,
		    "size=64k") == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char m[64];
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			_exit(10);
		int fd = open("/proc/self/setgroups", O_WRONLY);
		if (fd >= 0 && (write(fd, "deny", 4) != 4 || close(fd) < 0))
			_exit(11);
		snprintf(m, sizeof(m), "0 0 1");
		fd = open("/proc/self/uid_map", O_WRONLY);
		if (fd < 0 || write(fd, m, strlen(m)) < 0)
			_exit(12);
		close(fd);
		fd = open("/proc/self/gid_map", O_WRONLY);
		if (fd < 0 || write(fd, m, strlen(m)) < 0)
			_exit(13);
		close(fd);
		static const char *const ro[] = { "bind", "ro", NULL };
		struct arena *ca = arena_new();
		struct pbstrlist rl = mopts_of(ca, ro);
		if (mount_apply("none", src, &rl, target) != 0)
			_exit(14);
		struct statvfs v;
		if (statvfs(target, &v) < 0 || !(v.f_flag & ST_RDONLY) ||
		    !(v.f_flag & ST_NODEV) || !(v.f_flag & ST_NOEXEC))
			_exit(15);
		_exit(0);
	}
	int ws = -1;
	CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid);
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		printf("# userns child: status %d\n",
		       WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	umount2(src, MNT_DETACH);
	end();

	sh("umount -R %s/rootfs 2>/dev/null; rm -rf %s", base, base);
	arena_free(a);
}

void test_mount(void)
{
	begin("overlay lowerdir compaction");
	char data[8192], dir[256];
	snprintf(data, sizeof(data), "lowerdir=/a/b:/a/c,upperdir=/u");
	mount_compact_lowerdir(data, dir, sizeof(dir));
	CHECK(dir[0] == 0 && strcmp(data, "lowerdir=/a/b:/a/c,upperdir=/u") == 0);
	size_t n = (size_t)snprintf(data, sizeof(data), "index=off,lowerdir=");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(
			data + n, sizeof(data) - n,
			"%s/var/lib/containerd/"
			"io.containerd.snapshotter.v1.overlayfs/snapshots/%d/fs",
			i ? ":" : "", 1000 + i);
	snprintf(data + n, sizeof(data) - n, ",upperdir=/up,workdir=/wk");
	mount_compact_lowerdir(data, dir, sizeof(dir));
	CHECK(strcmp(dir, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/"
			  "snapshots/") == 0);
	CHECK(strncmp(data, "index=off,lowerdir=1000/fs:1001/fs:", 35) == 0);
	CHECK(strstr(data, ":1079/fs,upperdir=/up,workdir=/wk") != NULL);
	CHECK(strlen(data) < 4096 - 512);
	end();

	if (geteuid() != 0)
		return;
	begin("overlay with 70 long lowerdirs mounts (root)");
	char base[] = "/tmp/shim-unit-ovl-XXXXXX";
	CHECK(mkdtemp(base) != NULL);
	struct arena *a = arena_new();
	struct pbstrlist opts = { 0 };
	char *ld = arena_alloc(a, 16384);
	size_t l = (size_t)snprintf(ld, 16384, "lowerdir=");
	char path[512];
	for (int i = 0; i < 70; i++) {
		snprintf(path, sizeof(path),
			 "%s/a-rather-long-snapshot-directory-name-%03d", base, i);
		mkdir(path, 0755);
		if (i == 69) {
			char f[600];
			snprintf(f, sizeof(f), "%s/bottom", path);
			close(open(f, O_CREAT | O_WRONLY, 0644));
		}
		l += (size_t)snprintf(ld + l, 16384 - l, "%s%s", i ? ":" : "", path);
	}
	CHECK(l > 4096);
	pbstrlist_add(a, &opts, ld, l);
	char target[128], probe[160];
	snprintf(target, sizeof(target), "%s/rootfs", base);
	mkdir(target, 0755);
	char cwd[512];
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	int r = mount_apply("overlay", "overlay", &opts, target);
	CHECK(r == 0);
	char now[512];
	CHECK(getcwd(now, sizeof(now)) != NULL && strcmp(cwd, now) == 0);
	snprintf(probe, sizeof(probe), "%s/bottom", target);
	CHECK(r != 0 || access(probe, F_OK) == 0);
	CHECK(mount_unmount_all(target) == 0);
	CHECK(access(probe, F_OK) != 0);
	for (int i = 0; i < 70; i++) {
		snprintf(path, sizeof(path),
			 "%s/a-rather-long-snapshot-directory-name-%03d", base, i);
		if (i == 69) {
			char f[600];
			snprintf(f, sizeof(f), "%s/bottom", path);
			unlink(f);
		}
		rmdir(path);
	}
	rmdir(target);
	rmdir(base);
	arena_free(a);
	end();
	test_mount_kinds();
}
