/* Night Core's I/O benchmark guest: raw stdin and stdout throughput through
 * WASI fd_read/fd_write, in 64 KiB calls.
 *
 *   io_bench stdout BYTES   write BYTES bytes to stdout
 *   io_bench stdin          read stdin to its end; print the byte count and
 *                           a 32-bit checksum */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char buf[64 * 1024];

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "stdout") == 0) {
        long long left = strtoll(argv[2], NULL, 10);
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (unsigned char)('a' + i % 26);
        while (left > 0) {
            size_t n = left < (long long)sizeof buf ? (size_t)left : sizeof buf;
            ssize_t w = write(1, buf, n);
            if (w <= 0)
                return 1;
            left -= w;
        }
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "stdin") == 0) {
        unsigned long long total = 0;
        unsigned sum = 0;
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                sum = sum * 31 + buf[i];
            total += (unsigned long long)n;
        }
        if (n < 0)
            return 1;
        printf("%llu %08x\n", total, sum);
        return 0;
    }
    fprintf(stderr, "usage: io_bench stdout BYTES | io_bench stdin\n");
    return 2;
}
