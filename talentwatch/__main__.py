from talentwatch.cli import main

main()
