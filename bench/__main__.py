import sys

if sys.argv[1:2] == ["load"]:  # python -m bench load: concurrent agents over Streamable HTTP
    from bench.load import main as load_main

    raise SystemExit(load_main(sys.argv[2:]))
if sys.argv[1:2] == ["feed"]:  # python -m bench feed: a foreign write until analysis sees it, idle and under load
    from bench.feed import main as feed_main

    raise SystemExit(feed_main(sys.argv[2:]))
if sys.argv[1:2] == ["memory"]:  # python -m bench memory: each server's RSS once loaded
    from bench.memory import main as memory_main

    raise SystemExit(memory_main(sys.argv[2:]))
if sys.argv[1:2] == ["scale-model"]:  # python -m bench scale-model: the structures' cost with many stores
    from bench.scale_model import main as scale_model_main

    raise SystemExit(scale_model_main(sys.argv[2:]))
if sys.argv[1:2] == ["peer"]:  # python -m bench peer: side by side with the PostgreSQL original
    from bench.peer.run import main as peer_main

    raise SystemExit(peer_main(sys.argv[2:]))

if sys.argv[1:2] == ["search-tune"]:  # python -m bench search-tune: fusion chosen on the train half only
    from bench.search_tune import main as tune_main

    raise SystemExit(tune_main(sys.argv[2:]))

if sys.argv[1:2] == ["amplification"]:  # python -m bench amplification: what run_aggregation can cost the engine
    from bench.amplification import main as amplification_main

    raise SystemExit(amplification_main(sys.argv[2:]))
if sys.argv[1:2] == ["agents"]:  # python -m bench agents: tool choice of a model over both servers
    from bench.agents import main as agents_main

    raise SystemExit(agents_main(sys.argv[2:]))

if sys.argv[1:2] == ["search"]:  # python -m bench search: retrieval quality and speed (bench/search.py)
    from bench.search import main as search_main

    raise SystemExit(search_main(sys.argv[2:]))

from bench.harness import main

raise SystemExit(main())
