/*
 * bcryptprimitives.dll for Wine 8.0, which has none: Bun for Windows (1.4.5)
 * imports ProcessPrng from it and refuses to start without. Built by
 * scripts/windows.mjs with x86_64-w64-mingw32-gcc and placed beside bun.exe,
 * where the Windows loader looks first. Test scaffolding only: it is never
 * shipped, and real Windows has the real DLL.
 *
 * ProcessPrng (Windows 10+) fills a buffer from the system's random number
 * generator and cannot fail; RtlGenRandom (advapi32's SystemFunction036)
 * gives the same bytes through an older interface that takes a 32-bit length.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
