"""`python -m echo_stream <command>`: the pack's command line. Commands: demo, export, toyworld.

Relative imports only: the pack folder may be imported under any name (ComfyUI uses the folder's).
"""
import sys

USAGE = """usage: python -m echo_stream <command> [options]

commands:
  demo      the six-scene interactive demo (python -m echo_stream demo --help)
  export    a causal Wan checkpoint as a file core's Load Diffusion Model loads as its causal
            model, for core's Sampler AR Video (python -m echo_stream export --help)
  toyworld  train or check the toy-world model (python -m echo_stream toyworld --help)
"""


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "demo":
        from .demo.cli import main as demo_main

        return demo_main(rest)
    if command == "export":
        from .cli.export import main as export_main

        return export_main(rest)
    if command == "toyworld":
        from .toyworld.cli import main as toyworld_main

        return toyworld_main(rest)
    print(f"unknown command {command!r}\n\n{USAGE}", end="", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
