"""`python -m grader.cli`: the `dlgrade` command."""
from grader.cli import main

if __name__ == "__main__":
    main()
