import { createRoute, type AnyRoute } from '@tanstack/react-router';
import { appRoute } from '../../routes/base.tsx';
import { GroupPage, GroupsPage } from './groups.tsx';

const groupRoute = createRoute({
  getParentRoute: () => appRoute,
  path: '/groups/$name',
  component: function GroupRoute() {
    const { name } = groupRoute.useParams();
    return <GroupPage key={name} name={name} />;
  },
});

export const adminRoutes: AnyRoute[] = [createRoute({ getParentRoute: () => appRoute, path: '/groups', component: GroupsPage }), groupRoute];
