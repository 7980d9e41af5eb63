// Package deploy holds the deployment files (Kubernetes manifests in
// kubernetes/, a crontab line, Prometheus alerting rules in prometheus/)
// and, in its tests, the checks that they follow the platform's rules: the
// manifests strictly decoded into the Kubernetes API types, the compose
// file loaded by compose-go for each profile, the Dockerfile's stages and
// user, the rules through promtool's check and unit tests.
package deploy
