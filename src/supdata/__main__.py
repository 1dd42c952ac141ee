from supdata.cli import main

raise SystemExit(main())
