/* SPDX-License-Identifier: MIT */
#include "json-write.h"

#include <stdbool.h>

void json_write_string(FILE *out, const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *) s, *end = p + n;

        fputc('"', out);
        while (p < end) {
                unsigned char b = *p;
                size_t k = b < 0x80          ? 1
                        : (b & 0xe0) == 0xc0 ? 2
                        : (b & 0xf0) == 0xe0 ? 3
                        : (b & 0xf8) == 0xf0 ? 4
                                             : 0;
                bool ok = k > 0 && (size_t) (end - p) >= k && !(k == 2 && b < 0xc2);

                for (size_t i = 1; ok && i < k; i++)
                        ok = (p[i] & 0xc0) == 0x80;
                if (ok && k == 3)
                        ok = !(b == 0xe0 && p[1] < 0xa0) && !(b == 0xed && p[1] >= 0xa0);
                if (ok && k == 4)
                        ok = !(b == 0xf0 && p[1] < 0x90) && !(b == 0xf4 && p[1] >= 0x90) && b <= 0xf4;
                if (!ok) {
                        fputs("\xef\xbf\xbd", out); /* U+FFFD for a byte that is not UTF-8 */
                        p++;
                } else if (b == '"' || b == '\\') {
                        fputc('\\', out);
                        fputc(b, out);
                        p++;
                } else if (b < 0x20) {
                        fprintf(out, "\\u%04x", b);
                        p++;
                } else {
                        fwrite(p, 1, k, out);
                        p += k;
                }
        }
        fputc('"', out);
}
