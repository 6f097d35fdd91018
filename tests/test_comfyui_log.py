"""The integration test's reading of ComfyUI's log, checked without a ComfyUI (it runs in CI)."""
import pathlib

from test_comfyui_integration import PACK_NAME, ComfyServer, pack_problems

# ComfyUI 0.27 colours each line's level and prefixes it; older servers wrote bare lines
COLOURED = "\x1b[32m[INFO]\x1b[0m {}"
PLAIN = "{}"


def server_with_log(tmp_path: pathlib.Path, lines: list[str]) -> ComfyServer:
    server = ComfyServer(tmp_path)
    server.log_path.write_text("\n".join(lines) + "\n")
    return server


def import_lines(server: ComfyServer, style: str) -> list[str]:
    nodes = server.base / "custom_nodes"
    return [style.format("Import times for custom nodes:"),
            style.format(f"   0.0 seconds: {nodes / 'echo_test_nodes.py'}"),
            style.format(f"   0.1 seconds: {nodes / PACK_NAME}"),
            style.format("Starting server")]


def test_the_log_is_read_without_colour_codes(tmp_path):
    server = ComfyServer(tmp_path)
    server_with_log(tmp_path, import_lines(server, COLOURED))
    assert "\x1b" not in server.log() and "[INFO]    0.1 seconds: " in server.log()


def test_a_clean_import_is_no_problem_in_either_log_style(tmp_path):
    for style in (COLOURED, PLAIN):
        server = ComfyServer(tmp_path)
        server_with_log(tmp_path, import_lines(server, style))
        assert pack_problems(server, server.log()) == [], style


def test_a_pack_warning_is_still_found_in_a_coloured_log(tmp_path):
    server = ComfyServer(tmp_path)
    warning = f"\x1b[33m[WARNING]\x1b[0m {PACK_NAME}: something went wrong"
    server_with_log(tmp_path, import_lines(server, COLOURED) + [warning])
    assert pack_problems(server, server.log()) == [f"[WARNING] {PACK_NAME}: something went wrong"]
