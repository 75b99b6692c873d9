from seeding.cli import main

raise SystemExit(main())
