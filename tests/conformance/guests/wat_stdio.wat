;; Stdio and arguments through raw imports, no libc: scattered writes with
;; empty iovecs, reads of stdin into scattered buffers, writes to descriptors
;; that are not open or are directories, errno values printed as numbers,
;; and an exit status from proc_exit.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fd_fdstat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0..63: iovecs; 100..: text; 512..: number scratch; 1024..: stdin buffers
  (data (i32.const 100) "one ")
  (data (i32.const 104) "two ")
  (data (i32.const 108) "three\n")
  (data (i32.const 120) "bad_fd=")
  (data (i32.const 130) "dir_fd=")
  (data (i32.const 140) "argc=")
  (data (i32.const 150) "argv_bytes=")
  (data (i32.const 170) "envc=")
  (data (i32.const 180) "stdin=")
  (data (i32.const 190) "read_n=")
  (data (i32.const 200) "\n")
  (data (i32.const 210) "iov_oob=")
  (data (i32.const 220) "fdstat_oob=")

  ;; writes len bytes at ptr to stdout
  (func $out (param $ptr i32) (param $len i32)
    (i32.store (i32.const 48) (local.get $ptr))
    (i32.store (i32.const 52) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 48) (i32.const 1) (i32.const 56))))

  ;; prints an unsigned decimal and a newline
  (func $num (param $v i32) (local $p i32)
    (local.set $p (i32.const 600))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digits (local.get $v)))
    (call $out (local.get $p) (i32.sub (i32.const 600) (local.get $p)))
    (call $out (i32.const 200) (i32.const 1)))

  (func (export "_start")
    ;; three iovecs with an empty one in the middle, then a fourth
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 4))
    (i32.store (i32.const 8) (i32.const 104))
    (i32.store (i32.const 12) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 104))
    (i32.store (i32.const 20) (i32.const 4))
    (i32.store (i32.const 24) (i32.const 108))
    (i32.store (i32.const 28) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 4) (i32.const 40)))
    ;; bytes written by that call
    (call $num (i32.load (i32.const 40)))

    (call $out (i32.const 120) (i32.const 7))
    (call $num (call $fd_write (i32.const 99) (i32.const 0) (i32.const 1) (i32.const 40)))
    (call $out (i32.const 130) (i32.const 7))
    (call $num (call $fd_write (i32.const 3) (i32.const 0) (i32.const 1) (i32.const 40)))
    ;; an iovec pointing past the end of memory
    (i32.store (i32.const 32) (i32.const 65530))
    (i32.store (i32.const 36) (i32.const 100))
    (call $out (i32.const 210) (i32.const 8))
    (call $num (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40)))
    (call $out (i32.const 220) (i32.const 11))
    (call $num (call $fd_fdstat_get (i32.const 1) (i32.const 65530)))

    (drop (call $args_sizes_get (i32.const 40) (i32.const 44)))
    (call $out (i32.const 140) (i32.const 5))
    (call $num (i32.load (i32.const 40)))
    (drop (call $environ_sizes_get (i32.const 40) (i32.const 44)))
    (call $out (i32.const 170) (i32.const 5))
    (call $num (i32.load (i32.const 40)))

    ;; stdin into two buffers of 3 and 100 bytes
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 3))
    (i32.store (i32.const 8) (i32.const 1027))
    (i32.store (i32.const 12) (i32.const 100))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 2) (i32.const 40)))
    (call $out (i32.const 190) (i32.const 7))
    (call $num (i32.load (i32.const 40)))
    (call $out (i32.const 180) (i32.const 6))
    (call $out (i32.const 1024) (i32.load (i32.const 40)))
    (call $out (i32.const 200) (i32.const 1))
    (call $proc_exit (i32.const 5))))
