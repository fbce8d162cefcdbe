// A Go program (GOOS=wasip1) doing ordinary file work: reads the read-only
// /data tree, builds, rewrites and prunes a tree in /scratch, and prints what
// it saw so two runtimes can be compared line by line.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func res(key string, err error) {
	if err != nil {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			err = pe.Err
		case errors.As(err, &le):
			err = le.Err
		}
		fmt.Printf("%s=err:%v\n", key, err)
		return
	}
	fmt.Printf("%s=ok\n", key)
}

func ls(key, dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		res(key, err)
		return
	}
	var names []string
	for _, e := range ents {
		t := "f"
		switch {
		case e.IsDir():
			t = "d"
		case e.Type()&fs.ModeSymlink != 0:
			t = "l"
		}
		names = append(names, e.Name()+":"+t)
	}
	sort.Strings(names)
	fmt.Printf("%s=%s\n", key, strings.Join(names, ","))
}

func main() {
	fmt.Printf("args=%q\n", os.Args[1:])
	fmt.Printf("env_A=%q env_missing=%q\n", os.Getenv("A"), os.Getenv("NOT_GIVEN"))
	b, err := os.ReadFile("/data/hello.txt")
	res("read_hello", err)
	fmt.Printf("hello=%q\n", b)
	ls("ls_data", "/data")
	st, err := os.Stat("/data/sub/inner.txt")
	res("stat_inner", err)
	if err == nil {
		fmt.Printf("inner_size=%d inner_mode_regular=%v\n", st.Size(), st.Mode().IsRegular())
	}
	_, err = os.Stat("/data/nope")
	fmt.Printf("stat_missing_notexist=%v\n", errors.Is(err, fs.ErrNotExist))
	var walked []string
	err = filepath.WalkDir("/data", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		walked = append(walked, p)
		return nil
	})
	res("walk_data", err)
	fmt.Printf("walked=%s\n", strings.Join(walked, ","))

	res("mkdirall", os.MkdirAll("/scratch/x/y/z", 0o755))
	res("write", os.WriteFile("/scratch/x/y/z/out.txt", []byte("from go\n"), 0o644))
	f, err := os.OpenFile("/scratch/x/y/z/out.txt", os.O_APPEND|os.O_WRONLY, 0)
	res("open_append", err)
	if err == nil {
		_, err = f.WriteString("more\n")
		res("append", err)
		res("close", f.Close())
	}
	b, err = os.ReadFile("/scratch/x/y/z/out.txt")
	res("read_back", err)
	fmt.Printf("out=%q\n", b)
	res("rename", os.Rename("/scratch/x/y/z/out.txt", "/scratch/x/moved.txt"))
	res("symlink", os.Symlink("moved.txt", "/scratch/x/link"))
	t, err := os.Readlink("/scratch/x/link")
	res("readlink", err)
	fmt.Printf("link_target=%s\n", t)
	b, err = os.ReadFile("/scratch/x/link")
	res("read_through_link", err)
	fmt.Printf("through_link=%q\n", b)
	ls("ls_x", "/scratch/x")
	res("truncate", os.Truncate("/scratch/x/moved.txt", 4))
	st, err = os.Stat("/scratch/x/moved.txt")
	res("stat_moved", err)
	if err == nil {
		fmt.Printf("moved_size=%d\n", st.Size())
	}
	when := time.Unix(1700000000, 0)
	res("chtimes", os.Chtimes("/scratch/x/moved.txt", when, when))
	st, err = os.Stat("/scratch/x/moved.txt")
	if err == nil {
		fmt.Printf("mtime_set=%v\n", st.ModTime().Equal(when))
	}
	res("remove_nonempty", os.Remove("/scratch/x"))
	res("remove_link", os.Remove("/scratch/x/link"))
	res("removeall_y", os.RemoveAll("/scratch/x/y"))
	_, err = os.Stat("/scratch/x/y")
	fmt.Printf("y_gone=%v\n", errors.Is(err, fs.ErrNotExist))
	err = os.WriteFile("/data/new.txt", []byte("x"), 0o644)
	fmt.Printf("write_outside_preopen_or_ro_failed=%v\n", err != nil)
	if err == nil {
		os.Remove("/data/new.txt")
	}
	_, err = os.ReadFile("/etc/passwd")
	fmt.Printf("read_etc_failed=%v\n", err != nil)
	ls("ls_scratch", "/scratch")
	os.Exit(4)
}
