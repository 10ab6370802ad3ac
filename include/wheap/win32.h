/*
 * wheap/win32.h: the Win32 names of wheap's memory API, for porting code
 * written against the classic Win32 memory notes (VirtualAlloc, HeapCreate,
 * CreateFileMapping, ...).
 *
 *   #include <wheap/win32.h>
 *
 * Everything here is a macro, a type or a static inline function over the
 * wheap_* API of <wheap.h>; nothing is exported by the library, so none of
 * these names exist in a program that does not include this header.
 *
 * Differences from Win32 a port must know:
 *   - DWORD, LONG and ULONG are 32 bits (Win32's sizes), so this header
 *     uses uint32_t and int32_t; BOOL is int; HANDLE is a pointer.
 *   - A file is a file descriptor: pass (HANDLE)_get_osfhandle(fd) to
 *     CreateFileMapping, or INVALID_HANDLE_VALUE for pagefile-backed memory.
 *     The mapping keeps its own duplicate of the descriptor.
 *   - CloseHandle closes file-mapping handles only (heaps are destroyed
 *     with HeapDestroy, files closed with close()).
 *   - Security attributes and handle inheritance are accepted and ignored;
 *     named objects are visible to the same user only.
 *   - Only the ANSI names (and their unsuffixed macros) exist: there is no
 *     UTF-16 WCHAR on Linux.
 *   - Vectored exception handlers get an EXCEPTION_POINTERS whose
 *     ExceptionRecord carries ExceptionCode, ExceptionAddress and, for
 *     access violations and guard pages, NumberParameters = 2 with
 *     ExceptionInformation[1] the faulting address; ExceptionInformation[0]
 *     (read/write/execute) is 0, and ContextRecord is NULL.  Handlers run
 *     inside a signal handler: async-signal-safe code only.
 *   - PROCESS_HEAP_ENTRY has the Win32 field names with wheap's field types
 *     (cbData and the Region sizes are SIZE_T), so that HeapWalk needs no
 *     copying.
 */
#ifndef WHEAP_WIN32_H
#define WHEAP_WIN32_H

#include <stddef.h>
#include <stdint.h>

#include <wheap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Types
 * ---------------------------------------------------------------------- */

#ifndef WINAPI
#define WINAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef VOID
#define VOID void
#endif

typedef int            BOOL;
typedef uint8_t        BYTE;
typedef uint16_t       WORD;
typedef uint32_t       DWORD;
typedef int32_t        LONG;
typedef uint32_t       ULONG;
typedef unsigned int   UINT;
typedef uint64_t       DWORDLONG;
typedef uint64_t       ULONGLONG;
typedef intptr_t       LONG_PTR;
typedef uintptr_t      ULONG_PTR;
typedef uintptr_t      DWORD_PTR;
typedef size_t         SIZE_T;
typedef SIZE_T        *PSIZE_T;
typedef void          *PVOID;
typedef void          *LPVOID;
typedef const void    *LPCVOID;
typedef void          *HANDLE;
typedef HANDLE        *PHANDLE;
typedef char           CHAR;
typedef const char    *LPCSTR;
typedef DWORD         *PDWORD;
typedef DWORD         *LPDWORD;
typedef ULONG         *PULONG;
typedef ULONG_PTR     *PULONG_PTR;
typedef BOOL          *PBOOL;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)

typedef struct _SECURITY_ATTRIBUTES {
    DWORD  nLength;
    LPVOID lpSecurityDescriptor;
    BOOL   bInheritHandle;
} SECURITY_ATTRIBUTES, *PSECURITY_ATTRIBUTES, *LPSECURITY_ATTRIBUTES;

/* The Win64 layout (PartitionId sits in what is padding for wheap). */
typedef struct _MEMORY_BASIC_INFORMATION {
    PVOID  BaseAddress;
    PVOID  AllocationBase;
    DWORD  AllocationProtect;
    WORD   PartitionId;
    SIZE_T RegionSize;
    DWORD  State;
    DWORD  Protect;
    DWORD  Type;
} MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;

typedef struct _SYSTEM_INFO {
    union {
        DWORD dwOemId;
        struct {
            WORD wProcessorArchitecture;
            WORD wReserved;
        };
    };
    DWORD     dwPageSize;
    LPVOID    lpMinimumApplicationAddress;
    LPVOID    lpMaximumApplicationAddress;
    DWORD_PTR dwActiveProcessorMask;
    DWORD     dwNumberOfProcessors;
    DWORD     dwProcessorType;
    DWORD     dwAllocationGranularity;
    WORD      wProcessorLevel;
    WORD      wProcessorRevision;
} SYSTEM_INFO, *LPSYSTEM_INFO;

typedef struct _MEMORYSTATUSEX {
    DWORD     dwLength;
    DWORD     dwMemoryLoad;
    DWORDLONG ullTotalPhys;
    DWORDLONG ullAvailPhys;
    DWORDLONG ullTotalPageFile;
    DWORDLONG ullAvailPageFile;
    DWORDLONG ullTotalVirtual;
    DWORDLONG ullAvailVirtual;
    DWORDLONG ullAvailExtendedVirtual;
} MEMORYSTATUSEX, *LPMEMORYSTATUSEX;

/* Same layout as wheap_heap_entry (checked below), Win32 names. */
typedef struct _PROCESS_HEAP_ENTRY {
    PVOID  lpData;
    SIZE_T cbData;
    BYTE   cbOverhead;
    BYTE   iRegionIndex;
    WORD   wFlags;
    union {
        struct {
            HANDLE hMem;
            DWORD  dwReserved[3];
        } Block;
        struct {
            SIZE_T dwCommittedSize;
            SIZE_T dwUnCommittedSize;
            LPVOID lpFirstBlock;
            LPVOID lpLastBlock;
        } Region;
    };
} PROCESS_HEAP_ENTRY, *PPROCESS_HEAP_ENTRY, *LPPROCESS_HEAP_ENTRY;

typedef enum _HEAP_INFORMATION_CLASS {
    HeapCompatibilityInformation = WHEAP_HEAP_COMPATIBILITY_INFORMATION,
    HeapEnableTerminationOnCorruption = WHEAP_HEAP_ENABLE_TERMINATION_ON_CORRUPTION,
} HEAP_INFORMATION_CLASS;

#define EXCEPTION_MAXIMUM_PARAMETERS 15

typedef struct _EXCEPTION_RECORD {
    DWORD                     ExceptionCode;
    DWORD                     ExceptionFlags;
    struct _EXCEPTION_RECORD *ExceptionRecord;
    PVOID                     ExceptionAddress;
    DWORD                     NumberParameters;
    ULONG_PTR                 ExceptionInformation[EXCEPTION_MAXIMUM_PARAMETERS];
} EXCEPTION_RECORD, *PEXCEPTION_RECORD;

typedef struct _CONTEXT CONTEXT, *PCONTEXT;   /* not provided: always NULL */

typedef struct _EXCEPTION_POINTERS {
    PEXCEPTION_RECORD ExceptionRecord;
    PCONTEXT          ContextRecord;
} EXCEPTION_POINTERS, *PEXCEPTION_POINTERS;

typedef LONG (CALLBACK *PVECTORED_EXCEPTION_HANDLER)(PEXCEPTION_POINTERS ExceptionInfo);

#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(MEMORY_BASIC_INFORMATION) == sizeof(wheap_memory_basic_information) &&
               offsetof(MEMORY_BASIC_INFORMATION, RegionSize) ==
                   offsetof(wheap_memory_basic_information, region_size) &&
               offsetof(MEMORY_BASIC_INFORMATION, Type) ==
                   offsetof(wheap_memory_basic_information, type),
               "MEMORY_BASIC_INFORMATION must match wheap_memory_basic_information");
_Static_assert(sizeof(PROCESS_HEAP_ENTRY) == sizeof(wheap_heap_entry) &&
               offsetof(PROCESS_HEAP_ENTRY, wFlags) == offsetof(wheap_heap_entry, flags) &&
               offsetof(PROCESS_HEAP_ENTRY, Region.lpLastBlock) ==
                   offsetof(wheap_heap_entry, region.last_block),
               "PROCESS_HEAP_ENTRY must match wheap_heap_entry");
_Static_assert(sizeof(ULONG_PTR) == sizeof(size_t), "ULONG_PTR is size_t");
#endif

/* ------------------------------------------------------------------------
 * Constants (Win32 values: the same as wheap's)
 * ---------------------------------------------------------------------- */

#define MEM_COMMIT          WHEAP_MEM_COMMIT
#define MEM_RESERVE         WHEAP_MEM_RESERVE
#define MEM_DECOMMIT        WHEAP_MEM_DECOMMIT
#define MEM_RELEASE         WHEAP_MEM_RELEASE
#define MEM_FREE            WHEAP_MEM_FREE
#define MEM_PRIVATE         WHEAP_MEM_PRIVATE
#define MEM_MAPPED          WHEAP_MEM_MAPPED
#define MEM_RESET           WHEAP_MEM_RESET
#define MEM_TOP_DOWN        WHEAP_MEM_TOP_DOWN
#define MEM_WRITE_WATCH     WHEAP_MEM_WRITE_WATCH
#define MEM_IMAGE           WHEAP_MEM_IMAGE
#define MEM_RESET_UNDO      WHEAP_MEM_RESET_UNDO
#define MEM_LARGE_PAGES     WHEAP_MEM_LARGE_PAGES

#define PAGE_NOACCESS          WHEAP_PAGE_NOACCESS
#define PAGE_READONLY          WHEAP_PAGE_READONLY
#define PAGE_READWRITE         WHEAP_PAGE_READWRITE
#define PAGE_WRITECOPY         WHEAP_PAGE_WRITECOPY
#define PAGE_EXECUTE           WHEAP_PAGE_EXECUTE
#define PAGE_EXECUTE_READ      WHEAP_PAGE_EXECUTE_READ
#define PAGE_EXECUTE_READWRITE WHEAP_PAGE_EXECUTE_READWRITE
#define PAGE_EXECUTE_WRITECOPY WHEAP_PAGE_EXECUTE_WRITECOPY
#define PAGE_GUARD             WHEAP_PAGE_GUARD
#define PAGE_NOCACHE           WHEAP_PAGE_NOCACHE
#define PAGE_WRITECOMBINE      WHEAP_PAGE_WRITECOMBINE

#define SEC_COMMIT          WHEAP_SEC_COMMIT
#define SEC_RESERVE         WHEAP_SEC_RESERVE
#define FILE_MAP_COPY       WHEAP_FILE_MAP_COPY
#define FILE_MAP_WRITE      WHEAP_FILE_MAP_WRITE
#define FILE_MAP_READ       WHEAP_FILE_MAP_READ
#define FILE_MAP_EXECUTE    WHEAP_FILE_MAP_EXECUTE
#define FILE_MAP_ALL_ACCESS WHEAP_FILE_MAP_ALL_ACCESS

#define WRITE_WATCH_FLAG_RESET WHEAP_WRITE_WATCH_FLAG_RESET

#define HEAP_NO_SERIALIZE             WHEAP_HEAP_NO_SERIALIZE
#define HEAP_GROWABLE                 WHEAP_HEAP_GROWABLE
#define HEAP_GENERATE_EXCEPTIONS      WHEAP_HEAP_GENERATE_EXCEPTIONS
#define HEAP_ZERO_MEMORY              WHEAP_HEAP_ZERO_MEMORY
#define HEAP_REALLOC_IN_PLACE_ONLY    WHEAP_HEAP_REALLOC_IN_PLACE_ONLY
#define HEAP_CREATE_ENABLE_EXECUTE    WHEAP_HEAP_CREATE_ENABLE_EXECUTE
#define PROCESS_HEAP_REGION            WHEAP_PROCESS_HEAP_REGION
#define PROCESS_HEAP_UNCOMMITTED_RANGE WHEAP_PROCESS_HEAP_UNCOMMITTED_RANGE
#define PROCESS_HEAP_ENTRY_BUSY        WHEAP_PROCESS_HEAP_ENTRY_BUSY

#define STATUS_GUARD_PAGE_VIOLATION    WHEAP_STATUS_GUARD_PAGE_VIOLATION
#define STATUS_ACCESS_VIOLATION        WHEAP_STATUS_ACCESS_VIOLATION
#define STATUS_NO_MEMORY               WHEAP_STATUS_NO_MEMORY
#define EXCEPTION_GUARD_PAGE           STATUS_GUARD_PAGE_VIOLATION
#define EXCEPTION_ACCESS_VIOLATION     STATUS_ACCESS_VIOLATION
#define EXCEPTION_CONTINUE_EXECUTION   WHEAP_EXCEPTION_CONTINUE_EXECUTION
#define EXCEPTION_CONTINUE_SEARCH      WHEAP_EXCEPTION_CONTINUE_SEARCH
#define EXCEPTION_NONCONTINUABLE       0x1

#define PROCESSOR_ARCHITECTURE_AMD64   9
#define PROCESSOR_ARCHITECTURE_ARM64   12
#define PROCESSOR_ARCHITECTURE_UNKNOWN 0xFFFF
#define PROCESSOR_AMD_X8664            8664

#define ERROR_SUCCESS               WHEAP_ERROR_SUCCESS
#define NO_ERROR                    WHEAP_ERROR_SUCCESS
#define ERROR_FILE_NOT_FOUND        WHEAP_ERROR_FILE_NOT_FOUND
#define ERROR_ACCESS_DENIED         WHEAP_ERROR_ACCESS_DENIED
#define ERROR_INVALID_HANDLE        WHEAP_ERROR_INVALID_HANDLE
#define ERROR_NOT_ENOUGH_MEMORY     WHEAP_ERROR_NOT_ENOUGH_MEMORY
#define ERROR_OUTOFMEMORY           WHEAP_ERROR_OUTOFMEMORY
#define ERROR_BAD_LENGTH            WHEAP_ERROR_BAD_LENGTH
#define ERROR_NOT_SUPPORTED         WHEAP_ERROR_NOT_SUPPORTED
#define ERROR_INVALID_PARAMETER     WHEAP_ERROR_INVALID_PARAMETER
#define ERROR_INSUFFICIENT_BUFFER   WHEAP_ERROR_INSUFFICIENT_BUFFER
#define ERROR_NOT_LOCKED            WHEAP_ERROR_NOT_LOCKED
#define ERROR_ALREADY_EXISTS        WHEAP_ERROR_ALREADY_EXISTS
#define ERROR_NO_MORE_ITEMS         WHEAP_ERROR_NO_MORE_ITEMS
#define ERROR_INVALID_ADDRESS       WHEAP_ERROR_INVALID_ADDRESS
#define ERROR_NOACCESS              WHEAP_ERROR_NOACCESS
#define ERROR_INVALID_FLAGS         WHEAP_ERROR_INVALID_FLAGS
#define ERROR_MAPPED_ALIGNMENT      WHEAP_ERROR_MAPPED_ALIGNMENT
#define ERROR_PRIVILEGE_NOT_HELD    WHEAP_ERROR_PRIVILEGE_NOT_HELD
#define ERROR_NO_SYSTEM_RESOURCES   WHEAP_ERROR_NO_SYSTEM_RESOURCES
#define ERROR_COMMITMENT_LIMIT      WHEAP_ERROR_COMMITMENT_LIMIT

/* ------------------------------------------------------------------------
 * Errors and system information
 * ---------------------------------------------------------------------- */

static inline DWORD GetLastError(void) { return wheap_get_last_error(); }
static inline void SetLastError(DWORD dwErrCode) { wheap_set_last_error(dwErrCode); }

static inline void GetSystemInfo(LPSYSTEM_INFO lpSystemInfo)
{
    wheap_system_info si;
    wheap_get_system_info(&si);
    lpSystemInfo->dwOemId = 0;
#if defined(__x86_64__)
    lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_AMD64;
    lpSystemInfo->dwProcessorType = PROCESSOR_AMD_X8664;
#elif defined(__aarch64__)
    lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_ARM64;
    lpSystemInfo->dwProcessorType = 0;
#else
    lpSystemInfo->wProcessorArchitecture = PROCESSOR_ARCHITECTURE_UNKNOWN;
    lpSystemInfo->dwProcessorType = 0;
#endif
    lpSystemInfo->dwPageSize = si.page_size;
    lpSystemInfo->lpMinimumApplicationAddress = si.minimum_application_address;
    lpSystemInfo->lpMaximumApplicationAddress = si.maximum_application_address;
    lpSystemInfo->dwActiveProcessorMask = (DWORD_PTR)si.active_processor_mask;
    lpSystemInfo->dwNumberOfProcessors = si.number_of_processors;
    lpSystemInfo->dwAllocationGranularity = si.allocation_granularity;
    lpSystemInfo->wProcessorLevel = 0;
    lpSystemInfo->wProcessorRevision = 0;
}

static inline BOOL GlobalMemoryStatusEx(LPMEMORYSTATUSEX lpBuffer)
{
    if (!lpBuffer || lpBuffer->dwLength != sizeof(MEMORYSTATUSEX)) {
        wheap_set_last_error(WHEAP_ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    wheap_memory_status ms;
    ms.length = sizeof ms;
    if (!wheap_global_memory_status(&ms)) return FALSE;
    lpBuffer->dwMemoryLoad = ms.memory_load;
    lpBuffer->ullTotalPhys = ms.total_phys;
    lpBuffer->ullAvailPhys = ms.avail_phys;
    lpBuffer->ullTotalPageFile = ms.total_page_file;
    lpBuffer->ullAvailPageFile = ms.avail_page_file;
    lpBuffer->ullTotalVirtual = ms.total_virtual;
    lpBuffer->ullAvailVirtual = ms.avail_virtual;
    lpBuffer->ullAvailExtendedVirtual = 0;
    return TRUE;
}

/* ------------------------------------------------------------------------
 * Virtual memory
 * ---------------------------------------------------------------------- */

static inline LPVOID VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType,
                                  DWORD flProtect)
{
    return wheap_virtual_alloc(lpAddress, dwSize, flAllocationType, flProtect);
}

static inline BOOL VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType)
{
    return wheap_virtual_free(lpAddress, dwSize, dwFreeType);
}

static inline BOOL VirtualProtect(LPVOID lpAddress, SIZE_T dwSize, DWORD flNewProtect,
                                  PDWORD lpflOldProtect)
{
    return wheap_virtual_protect(lpAddress, dwSize, flNewProtect, lpflOldProtect);
}

static inline SIZE_T VirtualQuery(LPCVOID lpAddress, PMEMORY_BASIC_INFORMATION lpBuffer,
                                  SIZE_T dwLength)
{
    SIZE_T n = wheap_virtual_query(lpAddress, (wheap_memory_basic_information *)lpBuffer,
                                   dwLength);
    if (n) lpBuffer->PartitionId = 0;
    return n;
}

static inline BOOL VirtualLock(LPVOID lpAddress, SIZE_T dwSize)
{
    return wheap_virtual_lock(lpAddress, dwSize);
}

static inline BOOL VirtualUnlock(LPVOID lpAddress, SIZE_T dwSize)
{
    return wheap_virtual_unlock(lpAddress, dwSize);
}

static inline SIZE_T GetLargePageMinimum(void) { return wheap_get_large_page_minimum(); }

static inline UINT GetWriteWatch(DWORD dwFlags, PVOID lpBaseAddress, SIZE_T dwRegionSize,
                                 PVOID *lpAddresses, ULONG_PTR *lpdwCount,
                                 LPDWORD lpdwGranularity)
{
    return wheap_get_write_watch(dwFlags, lpBaseAddress, dwRegionSize, lpAddresses,
                                 (size_t *)lpdwCount, lpdwGranularity);
}

static inline UINT ResetWriteWatch(LPVOID lpBaseAddress, SIZE_T dwRegionSize)
{
    return wheap_reset_write_watch(lpBaseAddress, dwRegionSize);
}

/* ------------------------------------------------------------------------
 * Heaps
 * ---------------------------------------------------------------------- */

static inline HANDLE HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize)
{
    return wheap_heap_create(flOptions, dwInitialSize, dwMaximumSize);
}

static inline BOOL HeapDestroy(HANDLE hHeap)
{
    return wheap_heap_destroy((wheap_heap *)hHeap);
}

static inline LPVOID HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes)
{
    return wheap_heap_alloc((wheap_heap *)hHeap, dwFlags, dwBytes);
}

static inline LPVOID HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes)
{
    return wheap_heap_realloc((wheap_heap *)hHeap, dwFlags, lpMem, dwBytes);
}

static inline BOOL HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem)
{
    return wheap_heap_free((wheap_heap *)hHeap, dwFlags, lpMem);
}

static inline SIZE_T HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem)
{
    return wheap_heap_size((wheap_heap *)hHeap, dwFlags, lpMem);
}

static inline BOOL HeapValidate(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem)
{
    return wheap_heap_validate((wheap_heap *)hHeap, dwFlags, lpMem);
}

static inline SIZE_T HeapCompact(HANDLE hHeap, DWORD dwFlags)
{
    return wheap_heap_compact((wheap_heap *)hHeap, dwFlags);
}

static inline BOOL HeapLock(HANDLE hHeap) { return wheap_heap_lock((wheap_heap *)hHeap); }
static inline BOOL HeapUnlock(HANDLE hHeap) { return wheap_heap_unlock((wheap_heap *)hHeap); }

static inline BOOL HeapWalk(HANDLE hHeap, LPPROCESS_HEAP_ENTRY lpEntry)
{
    return wheap_heap_walk((wheap_heap *)hHeap, (wheap_heap_entry *)lpEntry);
}

static inline BOOL HeapSetInformation(HANDLE HeapHandle, HEAP_INFORMATION_CLASS HeapInformationClass,
                                      PVOID HeapInformation, SIZE_T HeapInformationLength)
{
    return wheap_heap_set_information((wheap_heap *)HeapHandle, (uint32_t)HeapInformationClass,
                                      HeapInformation, HeapInformationLength);
}

static inline BOOL HeapQueryInformation(HANDLE HeapHandle,
                                        HEAP_INFORMATION_CLASS HeapInformationClass,
                                        PVOID HeapInformation, SIZE_T HeapInformationLength,
                                        PSIZE_T ReturnLength)
{
    return wheap_heap_query_information((wheap_heap *)HeapHandle,
                                        (uint32_t)HeapInformationClass, HeapInformation,
                                        HeapInformationLength, ReturnLength);
}

static inline HANDLE GetProcessHeap(void) { return wheap_get_process_heap(); }

static inline DWORD GetProcessHeaps(DWORD NumberOfHeaps, PHANDLE ProcessHeaps)
{
    return (DWORD)wheap_get_process_heaps(NumberOfHeaps, (wheap_heap **)ProcessHeaps);
}

/* ------------------------------------------------------------------------
 * File mappings
 * ---------------------------------------------------------------------- */

/* The HANDLE for a file descriptor (the MSVC CRT's name for it). */
static inline intptr_t _get_osfhandle(int fd) { return (intptr_t)fd; }

static inline HANDLE CreateFileMappingA(HANDLE hFile, LPSECURITY_ATTRIBUTES lpAttributes,
                                        DWORD flProtect, DWORD dwMaximumSizeHigh,
                                        DWORD dwMaximumSizeLow, LPCSTR lpName)
{
    (void)lpAttributes;
    int fd = hFile == INVALID_HANDLE_VALUE ? -1 : (int)(intptr_t)hFile;
    return wheap_create_file_mapping(fd, flProtect,
                                     (uint64_t)dwMaximumSizeHigh << 32 | dwMaximumSizeLow, lpName);
}

static inline HANDLE OpenFileMappingA(DWORD dwDesiredAccess, BOOL bInheritHandle, LPCSTR lpName)
{
    (void)bInheritHandle;
    return wheap_open_file_mapping(dwDesiredAccess, lpName);
}

#define CreateFileMapping CreateFileMappingA
#define OpenFileMapping   OpenFileMappingA

static inline LPVOID MapViewOfFileEx(HANDLE hFileMappingObject, DWORD dwDesiredAccess,
                                     DWORD dwFileOffsetHigh, DWORD dwFileOffsetLow,
                                     SIZE_T dwNumberOfBytesToMap, LPVOID lpBaseAddress)
{
    return wheap_map_view_of_file_ex((wheap_mapping *)hFileMappingObject, dwDesiredAccess,
                                     (uint64_t)dwFileOffsetHigh << 32 | dwFileOffsetLow,
                                     dwNumberOfBytesToMap, lpBaseAddress);
}

static inline LPVOID MapViewOfFile(HANDLE hFileMappingObject, DWORD dwDesiredAccess,
                                   DWORD dwFileOffsetHigh, DWORD dwFileOffsetLow,
                                   SIZE_T dwNumberOfBytesToMap)
{
    return MapViewOfFileEx(hFileMappingObject, dwDesiredAccess, dwFileOffsetHigh,
                           dwFileOffsetLow, dwNumberOfBytesToMap, NULL);
}

static inline BOOL UnmapViewOfFile(LPCVOID lpBaseAddress)
{
    return wheap_unmap_view_of_file(lpBaseAddress);
}

static inline BOOL FlushViewOfFile(LPCVOID lpBaseAddress, SIZE_T dwNumberOfBytesToFlush)
{
    return wheap_flush_view_of_file(lpBaseAddress, dwNumberOfBytesToFlush);
}

/* File-mapping handles only. */
static inline BOOL CloseHandle(HANDLE hObject)
{
    return wheap_close_mapping((wheap_mapping *)hObject);
}

/* ------------------------------------------------------------------------
 * Vectored exception handlers
 *
 * wheap calls handler(status, address, context); the trampoline gives the
 * Win32 handler (passed as context) the EXCEPTION_POINTERS it expects.
 * ---------------------------------------------------------------------- */

static inline int wheap_win32_exception_trampoline_(uint32_t status, void *address,
                                                     void *context)
{
    EXCEPTION_RECORD record;
    EXCEPTION_POINTERS pointers;
    unsigned i;
    record.ExceptionCode = status;
    record.ExceptionFlags = 0;
    record.ExceptionRecord = NULL;
    record.ExceptionAddress = address;
    record.NumberParameters = status == STATUS_NO_MEMORY ? 0 : 2;
    for (i = 0; i < EXCEPTION_MAXIMUM_PARAMETERS; i++) record.ExceptionInformation[i] = 0;
    record.ExceptionInformation[1] = (ULONG_PTR)address;
    pointers.ExceptionRecord = &record;
    pointers.ContextRecord = NULL;
    return (int)((PVECTORED_EXCEPTION_HANDLER)(uintptr_t)context)(&pointers);
}

static inline PVOID AddVectoredExceptionHandler(ULONG First, PVECTORED_EXCEPTION_HANDLER Handler)
{
    return wheap_add_exception_handler((int)First, wheap_win32_exception_trampoline_,
                                       (void *)(uintptr_t)Handler);
}

static inline ULONG RemoveVectoredExceptionHandler(PVOID Handle)
{
    return wheap_remove_exception_handler(Handle) ? 1 : 0;
}

#ifdef __cplusplus
}
#endif

#endif /* WHEAP_WIN32_H */
