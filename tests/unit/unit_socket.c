/*
 * unit_socket.c - unit tests: the shim socket address containerd expects.
 */
#include "unit.h"

void test_socket_address(void)
{
	begin("socket address computed the Go shim's way");
	char out[256];
	CHECK(socket_address("/run/containerd/s", "/run/containerd/containerd.sock",
			     "default", "c1", out, sizeof(out)) == 0);
	CHECK(strcmp(out, "unix:///run/containerd/s/"
			  "d25aa4ef11a84e954e74a5bcff06557d0b6ea8d0c00243896f29826694bbd8"
			  "88") == 0);
	/* filepath.Join cleans the path first */
	CHECK(socket_address("/run/containerd/s", "/run/containerd//containerd.sock/",
			     "k8s.io", "pod-abc", out, sizeof(out)) == 0);
	CHECK(strcmp(out, "unix:///run/containerd/s/"
			  "7e60d492144f3b695f74c9f6a7d2f715090f0d816e4136891519082b9ec662"
			  "e1") == 0);
	char longdir[200];
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	CHECK(socket_address(longdir, "/a", "b", "c", out, sizeof(out)) == -ENAMETOOLONG);
	end();

	begin("path_clean matches filepath.Clean");
	struct {
		const char *in, *out;
	} cases[] = {
		{ "a//b/./c/..", "a/b" },
		{ "/../x", "/x" },
		{ "", "." },
		{ "../a", "../a" },
		{ "/a/b/../../..", "/" },
		{ "a/../..", ".." },
		{ "/a/", "/a" },
		{ "./", "." },
		{ "/", "/" },
		{ "abc/def/../../../ghi", "../ghi" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		path_clean(buf);
		if (strcmp(buf, cases[i].out) != 0) {
			printf("  path_clean(%s) = %s, want %s\n", cases[i].in, buf,
			       cases[i].out);
			group_failed = 1;
		}
	}
	end();
}
