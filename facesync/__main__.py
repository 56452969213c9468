from facesync.cli import main

main()
