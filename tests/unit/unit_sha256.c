/*
 * unit_sha256.c - unit tests: sha256: the digest of blobs and files.
 */
#include "unit.h"

void test_sha256(void)
{
	begin("sha256 vectors");
	char hex[65];
	sha256_hex("abc", 3, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015"
			  "ad") == 0);
	sha256_hex("", 0, hex);
	CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
			  "55") == 0);
	char a[1000];
	memset(a, 'a', sizeof(a));
	sha256_hex(a, sizeof(a), hex);
	CHECK(strcmp(hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737e"
			  "a3") == 0);
	end();
}
