from thinkcli.cli import main

main()
