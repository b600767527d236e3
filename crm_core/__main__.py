import sys

from crm_core.commands import main

sys.exit(main())
