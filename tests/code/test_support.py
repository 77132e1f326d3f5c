from tests.support import AF_UNIX_MAX, RAY_SOCKET_SUFFIX, ray_tmpdir


def test_ray_socket_paths_always_fit():
    for name in ("ray", "r-serve-run0", "a-much-longer-name-than-any-test-uses" * 3):
        assert len(ray_tmpdir(name)) + len(RAY_SOCKET_SUFFIX) <= AF_UNIX_MAX
