/* TEST-ONLY stand-in for Windows' bcryptprimitives.dll, for Wine older than 8.13.
 *
 * Rust's standard library (1.78 and later) draws its random numbers from ProcessPrng in
 * bcryptprimitives.dll, which every supported Windows has but Wine only gained in 8.13
 * (Debian 12 ships Wine 8.0). Without it no Rust-built DLL loads under that Wine.
 * scripts/test-windows.sh builds this file with mingw and copies the result into the private
 * WINEPREFIX it creates for the tests (and removes afterwards), and only when the installed
 * Wine lacks ProcessPrng. It is never shipped: dist/ does not contain it, and on Windows the
 * system's own bcryptprimitives.dll is used.
 *
 * ProcessPrng fills the buffer from the system's preferred random number generator, here
 * BCryptGenRandom (which Wine 8.0 has). The real function cannot fail; if the generator
 * fails here the process is ended rather than handed predictable bytes. Exported by name
 * through bcryptprimitives.def (undecorated on x86 too, as Windows exports it). */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
            static const char msg[] = "bcryptprimitives stand-in: BCryptGenRandom failed\n";
            DWORD written;
            WriteFile(GetStdHandle(STD_ERROR_HANDLE), msg, sizeof msg - 1, &written, NULL);
            ExitProcess(70);
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
