package pglocal

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// openDir is a fresh folder every user can enter (t.TempDir's parent is
// closed to others).
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pglocal-place-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// closedDir is a fresh 0700 folder inside an open one.
func closedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(openDir(t), "closed")
	require.NoError(t, os.Mkdir(dir, 0o700))
	return dir
}

func TestCanSearch(t *testing.T) {
	t.Parallel()
	const owner, group = 1000, 2000
	for _, tc := range []struct {
		name string
		perm fs.FileMode
		id   Identity
		want bool
	}{
		{"root enters anything", 0o000, Identity{Uid: 0, Gid: 0}, true},
		{"owner with its bit", 0o700, Identity{Uid: owner, Gid: 9}, true},
		{"owner without its bit, others have it", 0o071, Identity{Uid: owner, Gid: group}, false},
		{"group member with the group bit", 0o710, Identity{Uid: 7, Gid: group}, true},
		{"supplementary group member", 0o710, Identity{Uid: 7, Gid: 9, Groups: []uint32{group}}, true},
		{"group member without the bit, others have it", 0o701, Identity{Uid: 7, Gid: group}, false},
		{"other with the bit", 0o711, Identity{Uid: 7, Gid: 9}, true},
		{"other without the bit (a 0700 folder)", 0o770, Identity{Uid: 7, Gid: 9}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, canSearch(tc.perm, owner, group, tc.id))
		})
	}
}

func TestBlockedNamesTheFirstClosedFolder(t *testing.T) {
	t.Parallel()
	// A stranger: neither the owner of the test's folders nor in their group.
	stranger := Identity{Uid: uint32(os.Getuid()) + 4242, Gid: 4242424}
	root := openDir(t)
	open := filepath.Join(root, "open")
	closed := filepath.Join(open, "closed")
	require.NoError(t, os.MkdirAll(filepath.Join(closed, "inner"), 0o755))
	require.NoError(t, os.Chmod(closed, 0o700))

	blocked, err := Blocked(filepath.Join(open, "not-yet", "data"), stranger)
	require.NoError(t, err)
	require.Empty(t, blocked, "folders that do not exist yet are not checked")

	blocked, err = Blocked(filepath.Join(closed, "inner", "data"), stranger)
	require.NoError(t, err)
	require.Equal(t, closed, blocked)

	// Through a link from an open folder, the closed one still stops it.
	link := filepath.Join(root, "link")
	require.NoError(t, os.Symlink(filepath.Join(closed, "inner"), link))
	blocked, err = Blocked(link, stranger)
	require.NoError(t, err)
	require.Equal(t, closed, blocked)

	require.NoError(t, os.Chmod(closed, 0o711))
	blocked, err = Blocked(filepath.Join(closed, "inner", "data"), stranger)
	require.NoError(t, err)
	require.Empty(t, blocked, "the search bit for others is enough")
}

func TestRelocatedDirIsDeterministic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := RelocatedDir(filepath.Join(dir, ".dev", "postgres"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first, "/var/tmp/clusterdesk-"), first)
	require.Len(t, filepath.Base(first), len("clusterdesk-")+12)

	again, err := RelocatedDir(filepath.Join(dir, ".dev", "..", ".dev", "postgres"))
	require.NoError(t, err)
	require.Equal(t, first, again, "the same place gives the same folder")

	link := filepath.Join(t.TempDir(), "checkout")
	require.NoError(t, os.Symlink(dir, link))
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".dev"), 0o755))
	viaLink, err := RelocatedDir(filepath.Join(link, ".dev", "postgres"))
	require.NoError(t, err)
	require.Equal(t, first, viaLink, "a checkout reached through a link is the same checkout")

	other, err := RelocatedDir(filepath.Join(t.TempDir(), ".dev", "postgres"))
	require.NoError(t, err)
	require.NotEqual(t, first, other, "another checkout gets another folder")
}

// TestLocateInAClosedFolder places a data folder inside a 0700 folder: as
// root the server's user (postgres) cannot enter it, so it moves to
// /var/tmp behind a link, the same on every call, and Remove deletes both.
// Any other user runs the server itself and keeps it in place.
func TestLocateInAClosedFolder(t *testing.T) {
	t.Parallel()
	checkout := closedDir(t)
	dev := filepath.Join(checkout, ".dev")
	require.NoError(t, os.Mkdir(dev, 0o755))
	want := filepath.Join(dev, "postgres")
	// An empty folder left by an initdb that failed there before.
	require.NoError(t, os.Mkdir(want, 0o700))
	relocated, err := RelocatedDir(want)
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(relocated) })

	loc, err := Locate(want)
	require.NoError(t, err)
	if os.Geteuid() != 0 {
		require.Equal(t, Location{Dir: want}, loc)
		return
	}
	require.Equal(t, Location{Dir: relocated, Relocated: true, Blocked: checkout, Linked: true}, loc)
	target, err := os.Readlink(want)
	require.NoError(t, err)
	require.Equal(t, relocated, target)
	require.NoError(t, os.Mkdir(relocated, 0o700)) // as initdb would

	again, err := Locate(want)
	require.NoError(t, err)
	require.Equal(t, Location{Dir: relocated, Relocated: true, Blocked: checkout}, again, "linked once, found again")

	require.NoError(t, Remove(want))
	require.NoDirExists(t, relocated)
	_, err = os.Lstat(want)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, Remove(want), "nothing to remove is no error")
}

func TestLocateRefusesAPlantedFolder(t *testing.T) {
	t.Parallel()
	checkout := closedDir(t)
	want := filepath.Join(checkout, "postgres")
	relocated, err := RelocatedDir(want)
	require.NoError(t, err)
	t.Cleanup(func() { os.Remove(relocated) })
	// Someone else's link at the known name in /var/tmp.
	require.NoError(t, os.Symlink(t.TempDir(), relocated))

	_, err = Locate(want)
	if os.Geteuid() != 0 {
		require.NoError(t, err, "kept in place: the planted folder is not used")
		return
	}
	require.ErrorContains(t, err, "is not a folder made by this user")
}
