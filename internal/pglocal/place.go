package pglocal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// relocationRoot holds the data folders that their own place cannot hold:
// every user can enter it, and unlike /tmp it survives a reboot.
const relocationRoot = "/var/tmp"

// relocatedPrefix starts the name of every relocated data folder; Remove
// deletes only folders named so.
const relocatedPrefix = "clusterdesk-"

// Identity is who a process is for the kernel's permission checks.
type Identity struct {
	Uid, Gid uint32
	Groups   []uint32
}

// ServerIdentity is who the server runs as: ourselves, or the postgres user
// when we are root. A root caller's server gets no supplementary groups (a
// credential without groups clears them), so only its own group counts.
func ServerIdentity() (Identity, error) {
	cred, err := serverUser()
	if err != nil {
		return Identity{}, err
	}
	if cred != nil {
		return Identity{Uid: cred.Uid, Gid: cred.Gid, Groups: cred.Groups}, nil
	}
	id := Identity{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	groups, _ := os.Getgroups()
	for _, g := range groups {
		id.Groups = append(id.Groups, uint32(g))
	}
	return id, nil
}

// Blocked returns the first folder on the way to dir that id may not enter
// (no search permission for it), or "" when id reaches dir. Symbolic links
// are followed, and the folders they lead through are checked too; folders
// that do not exist yet are not checked (whoever creates them decides).
func Blocked(dir string, id Identity) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	existing := abs
	for {
		if _, err := os.Stat(existing); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("pglocal: %w", err)
		}
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	// "/", "/a", "/a/b", … up to the deepest existing folder.
	path := "/"
	steps := append([]string{""}, strings.Split(strings.TrimPrefix(real, "/"), "/")...)
	for _, step := range steps {
		path = filepath.Join(path, step)
		info, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("pglocal: %w", err)
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return "", fmt.Errorf("pglocal: no owner information for %s", path)
		}
		if info.IsDir() && !canSearch(info.Mode().Perm(), st.Uid, st.Gid, id) {
			return path, nil
		}
	}
	return "", nil
}

// canSearch applies the kernel's rule for entering a folder: root always
// may; otherwise the owner's bits decide for the owner, the group's bits for
// a member of the folder's group, and the others' bits for everyone else
// (an owner without the bit is refused even if others have it).
func canSearch(perm fs.FileMode, owner, group uint32, id Identity) bool {
	switch {
	case id.Uid == 0:
		return true
	case id.Uid == owner:
		return perm&0o100 != 0
	case id.Gid == group || slices.Contains(id.Groups, group):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// RelocatedDir is where the data folder asked for at want is kept when the
// server's user cannot reach want: /var/tmp/clusterdesk-<12 hex digits of
// the SHA-256 of want's absolute path>. The same want always gives the same
// folder, so the next start finds the same database.
func RelocatedDir(want string) (string, error) {
	abs, err := filepath.Abs(want)
	if err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	// The same checkout reached through a symbolic link is the same checkout.
	if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(parent, filepath.Base(abs))
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(relocationRoot, relocatedPrefix+hex.EncodeToString(sum[:6])), nil
}

// Location is where a data folder is kept.
type Location struct {
	// Dir is the folder to give Options.DataDir.
	Dir string
	// Relocated is set when Dir is not the folder asked for, because the
	// server's user cannot reach it; Blocked names the folder that stops it.
	Relocated bool
	Blocked   string
	// Linked is set when this call made the link from the folder asked for
	// to Dir: the first start in this place.
	Linked bool
}

// Locate decides where the data folder asked for at want is kept: at want
// when the server's user can reach it, otherwise in RelocatedDir(want), with
// want made a symbolic link to it so that people and Remove find it. A
// folder left at want by an initdb that failed there (empty) is replaced by
// the link; any other file there is left alone and reported.
func Locate(want string) (Location, error) {
	id, err := ServerIdentity()
	if err != nil {
		return Location{}, err
	}
	blocked, err := Blocked(filepath.Dir(want), id)
	if err != nil {
		return Location{}, err
	}
	if blocked == "" {
		if info, err := os.Lstat(want); err != nil || info.Mode()&fs.ModeSymlink == 0 {
			return Location{Dir: want}, nil
		}
		// A link from an earlier start in a place that was closed then:
		// the data is where it leads.
	}
	dir, err := RelocatedDir(want)
	if err != nil {
		return Location{}, err
	}
	if err := checkOwned(dir, id); err != nil {
		return Location{}, err
	}
	loc := Location{Dir: dir, Relocated: true, Blocked: blocked}
	if target, err := os.Readlink(want); err == nil && target == dir {
		return loc, nil
	}
	if info, err := os.Lstat(want); err == nil {
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			err = os.Remove(want)
		case info.IsDir():
			err = os.Remove(want) // fails unless empty
		default:
			err = errors.New("not a folder")
		}
		if err != nil {
			return Location{}, fmt.Errorf("pglocal: %s is in the way of a link to %s (move it away): %w", want, dir, err)
		}
	}
	if err := os.Symlink(dir, want); err != nil {
		return Location{}, fmt.Errorf("pglocal: %w", err)
	}
	loc.Linked = true
	return loc, nil
}

// checkOwned refuses a relocated folder that someone else made: /var/tmp is
// open to every user, and a folder (or link) planted at the known name would
// otherwise receive the database, or be handed to the postgres user.
func checkOwned(dir string, id Identity) error {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || !ok || (st.Uid != id.Uid && st.Uid != uint32(os.Geteuid())) {
		return fmt.Errorf("pglocal: %s is not a folder made by this user or the server's; remove it, or run from a folder the server's user can enter", dir)
	}
	return nil
}

// Remove deletes the data folder asked for at want, wherever Locate kept it:
// the folder itself, or the link and the relocated folder it leads to (only
// a folder named as RelocatedDir names them, so a hand-made link never
// deletes anything else). Nothing there is not an error.
func Remove(want string) error {
	var dirs []string
	if target, err := os.Readlink(want); err == nil && strings.HasPrefix(filepath.Base(target), relocatedPrefix) {
		dirs = append(dirs, target)
	}
	// The folder this place maps to, even if its link was lost.
	if dir, err := RelocatedDir(want); err == nil {
		dirs = append(dirs, dir)
	}
	dirs = append(dirs, want)
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("pglocal: remove %s: %w", dir, err)
		}
	}
	return nil
}
