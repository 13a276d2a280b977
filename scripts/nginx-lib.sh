# Sourced by test scripts: nginx as a TLS-terminating WebSocket proxy in front of a simulator,
# on a free loopback port, as sites put PI Web API behind one (the Rust tests do the same in
# tests/nginx.rs).
#   start_nginx_tls DIR CERT KEY UPSTREAM   (UPSTREAM: host:port) sets NGINX_PORT
#   stop_nginx                              stops it (the caller's EXIT trap should call it)
NGINX_PID=

start_nginx_tls() {
    local dir=$1 cert=$2 key=$3 upstream=$4 nginx try i
    nginx=$(command -v nginx || echo /usr/sbin/nginx)
    [ -x "$nginx" ] || { echo "nginx-lib: nginx not found (scripts/install-deps.sh installs it)" >&2; return 1; }
    mkdir -p "$dir"
    for try in 1 2 3 4 5; do
        # A free port now; another process may take it before nginx binds: then try again.
        NGINX_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        cat > "$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 256; }
http {
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        server_name localhost;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        location / {
            proxy_pass http://$upstream;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header Host \$host;
            proxy_set_header Authorization \$http_authorization;
            proxy_read_timeout 3600s;
            proxy_buffering off;
        }
    }
}
CONF
        "$nginx" -p "$dir" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
        NGINX_PID=$!
        for i in $(seq 1 100); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' \
                    "$NGINX_PORT" 2>/dev/null; then
                return 0
            fi
            sleep 0.1
        done
        stop_nginx
        grep -q "Address already in use" "$dir/error.log" "$dir/stdout.log" 2>/dev/null && continue
        echo "nginx-lib: nginx did not start: $(tail -n 2 "$dir/error.log" "$dir/stdout.log" 2>/dev/null | tr '\n' ' ')" >&2
        return 1
    done
    echo "nginx-lib: nginx found no free port in 5 tries" >&2
    return 1
}

stop_nginx() {
    [ -n "$NGINX_PID" ] || return 0
    kill -TERM "$NGINX_PID" 2>/dev/null   # graceful: the master stops its workers
    wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=
}
