/*
 * driver.c - run fuzz targets without libFuzzer: the regression mode.
 *
 *   fuzz_TARGET [-q] FILE|DIR...
 *
 * Calls LLVMFuzzerInitialize (when the target has one) and then
 * LLVMFuzzerTestOneInput once per file (the files of each DIR, sorted, not
 * recursive), each in a fresh heap buffer of exactly the file's size so
 * that ASan catches any overread.  Prints "N inputs" and exits 0; a crash
 * is the sanitizer's report and a non-zero exit.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int quiet;

static int
run_file(const char *path)
{
	FILE *f;
	uint8_t *buf;
	struct stat st;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0) {
		perror(path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* malloc(0) may return NULL; keep a distinct 1-byte slot then */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	if (n != (size_t)st.st_size) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		return -1;
	}
	if (!quiet)
		fprintf(stderr, "running %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_dir(const char *dir, size_t *count)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL, **nn, path[4096];
	size_t n = 0, i;
	int r = 0;

	if ((d = opendir(dir)) == NULL) {
		perror(dir);
		return -1;
	}
	/* single-threaded; readdir_r() is deprecated in glibc */
	/* cppcheck-suppress readdirCalled */
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL) {
			r = -1;
			break;
		}
		names = nn;
		if ((names[n] = strdup(e->d_name)) == NULL) {
			r = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (r == 0 && run_file(path) == 0)
			(*count)++;
		else
			r = -1;
		free(names[i]);
	}
	free(names);
	return r;
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t count = 0;
	int i = 1;

	if (argc > 1 && strcmp(argv[1], "-q") == 0) {
		quiet = 1;
		i++;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) != 0 :
		    run_file(argv[i]) != 0)
			return 1;
		if (!S_ISDIR(st.st_mode))
			count++;
	}
	printf("%zu inputs\n", count);
	return 0;
}
