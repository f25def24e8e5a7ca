from smsc.cli import main

raise SystemExit(main())
