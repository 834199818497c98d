/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Sift's Windows build under Wine 8.0
 * in the tests only; it is never shipped.
 *
 * Rust's standard library (since 1.78) takes its random numbers (HashMap seeds) from
 * ProcessPrng in bcryptprimitives.dll, which every Windows from 10 on has and Wine 8.0 lacks:
 * without it a Rust program stops at start with STATUS_DLL_NOT_FOUND. This forwards to
 * RtlGenRandom (SystemFunction036 in advapi32), which Wine has.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
