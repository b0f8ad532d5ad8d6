"""Network module entry point under the reference's script name (see network_module/main.py)."""
from ike_utils.cli import run_cli
from network_module.main import main

if __name__ == '__main__':
    run_cli(main)
